import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { setSchedule, removeSchedule } from '../../../src/backups/schedules.service.ts';
import { cronFor } from '../../../src/backups/schedule.ts';
import { cancelBackup, requestBackup } from '../../../src/backups/backups.service.ts';
import { backupScheduled } from '../../../src/jobs/backup-scheduled.ts';
import { listResourceBackups } from '../../../src/backups/backups.repo.ts';
import { AppError } from '../../../src/errors.ts';
import { jobDeps } from '../../support/factories.ts';

// No worker: this file decides itself when schedule ticks are handled, and nothing else runs them.
const { app, sim } = await startStack({ worker: false });
const db = app.runtime.pool;
const svc = { pool: db, boss: app.boss };
const deps = jobDeps(app);

/** A schedule tick as pg-boss creates it, then handled by `workers` workers at once. */
async function tick(resourceId: string, workers = 1) {
  const jobId = (await app.boss.send('backup-scheduled', { resourceId }))!;
  return Promise.all(
    Array.from({ length: workers }, () =>
      backupScheduled(
        deps,
        { resourceId },
        { id: jobId, signal: new AbortController().signal, retryCount: 0, expireInSeconds: 1800 },
      ),
    ),
  );
}

test('stores a schedule and gives pg-boss one cron keyed by the resource, in its time zone', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setSchedule(
    svc,
    uuid,
    { frequency: 'daily', hour: 2, minute: 30, timeZone: 'America/New_York' },
    'admin@example.com',
  );
  await setSchedule(
    svc,
    uuid,
    { frequency: 'daily', hour: 4, minute: 15, timeZone: 'Europe/Berlin' },
    'admin@example.com',
  );
  const mine = (await app.boss.getSchedules()).filter((s) => s.key === uuid);
  assert.equal(mine.length, 1, 'replaced, not added');
  assert.equal(mine[0]!.name, 'backup-scheduled');
  assert.equal(mine[0]!.cron, '15 4,5 * * *');
  assert.equal(mine[0]!.timezone, 'Europe/Berlin');
  await removeSchedule(svc, uuid, 'admin@example.com');
  assert.equal((await app.boss.getSchedules()).filter((s) => s.key === uuid).length, 0);
});

test("saves at once from several admins leave pg-boss's cron and the stored schedule agreeing", async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  const minutes = [5, 10, 15, 20, 25, 30, 35, 40];
  await Promise.all(
    minutes.map((minute) =>
      setSchedule(svc, uuid, { frequency: 'daily', hour: 3, minute, timeZone: 'UTC' }, `admin-${minute}@example.com`),
    ),
  );
  const stored = (await db.query('select minute from backup_schedules where resource_id = $1', [uuid])).rows[0];
  const cron = (await app.boss.getSchedules()).filter((s) => s.key === uuid).map((s) => s.cron);
  assert.deepEqual(cron, [cronFor({ frequency: 'daily', hour: 3, minute: stored.minute, timeZone: 'UTC' }).cron]);
  await removeSchedule(svc, uuid, 'admin@example.com');
});

test('refuses a schedule the plan does not allow, or a time zone that does not exist, with 422', async () => {
  const { uuid } = await sim.provision({ plan: 'basic' });
  await assert.rejects(
    setSchedule(svc, uuid, { frequency: 'hourly', minute: 0, timeZone: 'UTC' }, 'x'),
    (e: unknown) =>
      e instanceof AppError && e.status === 422 && /Hourly backups are not part of the Basic plan/.test(e.message),
  );
  await assert.rejects(
    setSchedule(svc, uuid, { frequency: 'daily', hour: 1, minute: 0, timeZone: 'Mars/Olympus_Mons' }, 'x'),
    (e: unknown) => e instanceof AppError && e.status === 422,
  );
});

test('a slot handled by two workers at once, and fired again an hour later, makes one backup', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setSchedule(svc, uuid, { frequency: 'daily', hour: 2, minute: 30, timeZone: 'UTC' }, 'x');
  const outcomes = await tick(uuid, 2);
  assert.deepEqual(outcomes.sort(), ['slot-taken', 'started']);
  assert.deepEqual(await tick(uuid), ['slot-taken']);
  const backups = await listResourceBackups(db, uuid);
  assert.equal(backups.length, 1);
  assert.equal(backups[0]!.name, 'a001');
  assert.equal(backups[0]!.trigger, 'scheduled');
  assert.match(backups[0]!.slotKey!, new RegExp(`^${uuid}:\\d{4}-\\d{2}-\\d{2}$`));
});

test('a slot due while a backup still runs is recorded as a skipped scheduled backup, not dropped', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setSchedule(svc, uuid, { frequency: 'hourly', minute: 0, timeZone: 'UTC' }, 'x');
  await requestBackup(svc, uuid, { trigger: 'manual', requestedBy: 'x' });
  assert.deepEqual(await tick(uuid), ['skipped-busy']);
  const skipped = (await listResourceBackups(db, uuid)).find((b) => b.trigger === 'scheduled')!;
  assert.equal(skipped.state, 'failed');
  assert.equal(skipped.failureKind, 'skipped');
  assert.match(skipped.failureReason!, /previous backup was still running/);
});

test('a daily slot skipped while a backup ran is still taken by its later fire, once that backup is done', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setSchedule(svc, uuid, { frequency: 'daily', hour: 2, minute: 30, timeZone: 'UTC' }, 'x');
  const manual = (await requestBackup(svc, uuid, { trigger: 'manual', requestedBy: 'x' }))!;
  assert.deepEqual(await tick(uuid), ['skipped-busy']);
  assert.deepEqual(await tick(uuid), ['slot-taken'], 'still busy: the skip is recorded once per slot');
  await cancelBackup(svc, uuid, manual.id, 'x');
  assert.deepEqual(await tick(uuid), ['started'], "the slot's later fire takes the backup");
  assert.deepEqual(await tick(uuid), ['slot-taken']);
  const scheduled = (await listResourceBackups(db, uuid)).filter((b) => b.trigger === 'scheduled');
  assert.deepEqual(scheduled.map((b) => b.failureKind ?? b.state).sort(), ['pending', 'skipped']);
});

test('a tick for a resource without a schedule does nothing', async () => {
  const { uuid } = await sim.provision();
  assert.deepEqual(await tick(uuid), ['no-schedule']);
});
