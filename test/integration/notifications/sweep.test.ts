import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { forceCompleted, jobDeps, pendingBackupRow, provisionedResource } from '../../support/factories.ts';
import { startWebhookReceiver } from '../../support/notify-receivers.ts';
import { setSchedule } from '../../../src/backups/schedules.service.ts';
import { recordEvent } from '../../../src/backups/backup-events.repo.ts';
import { notificationSweep } from '../../../src/jobs/notification-sweep.ts';
import { addWebhook } from '../../../src/notifications/notifications.service.ts';
import { notifyDepsFrom } from '../../../src/notifications/notify-config.ts';
import { QUEUES } from '../../../src/queue/queues.ts';
import { markReconnectNeeded, saveConnection } from '../../../src/heroku/connect-connections.repo.ts';

// The dead-man switch: a periodic job, not a page view, notices that scheduled backups stopped
// producing verified archives, and says so once a day while it lasts. The clock is the job's own,
// moved by the test; the deliveries are made by the real worker.
const receiver = await startWebhookReceiver();
const stack = await startStack();
const { app } = stack;
const db = app.runtime.pool;
const notify = notifyDepsFrom(app.config);
let clock = new Date();
const sweep = () => notificationSweep(jobDeps(app, { notify: { ...notify, now: () => clock } }), {});
const HOUR = 3_600_000;

const { uuid } = await provisionedResource(stack, { awaitApp: false });
const actor = { resourceId: uuid, id: 'user:test', label: 'admin@example.com', ip: null };
await addWebhook({ pool: db, boss: app.boss, secrets: app.runtime.secrets, notify }, actor, {
  url: `${receiver.url}/stale`,
});

const received = (type: string) => receiver.requests.filter((request) => JSON.parse(request.body).type === type);

test('the sweep is a pg-boss cron job that runs every minute', async () => {
  const schedules = await app.boss.getSchedules(QUEUES.notificationSweep.name);
  assert.deepEqual(
    schedules.map((schedule) => schedule.cron),
    ['* * * * *'],
  );
  // From here the test runs the sweep itself, on its own clock: a tick on the real clock would see the
  // schedule as fresh and end the condition the test is following.
  await app.boss.unschedule(QUEUES.notificationSweep.name, 'every-minute');
});

test('a daily schedule with no verified backup for 1.5 days is reported stale by the sweep, once a day', async () => {
  await setSchedule(
    { pool: db, boss: app.boss },
    uuid,
    { frequency: 'daily', hour: 3, minute: 0, timeZone: 'UTC' },
    'x',
  );
  const setAt = new Date();
  clock = new Date(setAt.getTime() + 35 * HOUR);
  assert.equal((await sweep()).stale, 0, 'not yet: 35 hours is within a day and a half');
  clock = new Date(setAt.getTime() + 37 * HOUR);
  assert.equal((await sweep()).stale, 1, 'stale after 36 hours with nothing verified');
  const first = await eventually(async () => received('backups.stale')[0], { what: 'the stale webhook' });
  assert.match(JSON.parse(first.body).text, /are scheduled daily, but none has been verified yet/);

  // Every minute after that, through the day: nothing new.
  for (const later of [1 / 60, 1, 12, 23.9]) {
    clock = new Date(setAt.getTime() + (37 + later) * HOUR);
    assert.equal((await sweep()).stale, 0, `no repeat ${later} hours later`);
  }
  clock = new Date(setAt.getTime() + (37 + 24) * HOUR);
  assert.equal((await sweep()).stale, 1, 'a day later, it is said again');
  await eventually(async () => received('backups.stale').length === 2, { what: 'the second stale webhook' });

  // A verified backup ends the condition; its next lapse is a new one.
  const backup = await pendingBackupRow(db, uuid);
  await forceCompleted(db, backup.id, { at: clock });
  clock = new Date(clock.getTime() + HOUR);
  assert.equal((await sweep()).stale, 0);
  const { rows } = await db.query(`select 1 from notification_conditions where resource_id = $1`, [uuid]);
  assert.equal(rows.length, 0, 'the condition was cleared');
  clock = new Date(clock.getTime() + 36 * HOUR);
  assert.equal((await sweep()).stale, 1, 'stale again 1.5 days after that backup');
});

test('drill-failed and archive-corrupt backup events are announced once each', async () => {
  const backup = await pendingBackupRow(db, uuid);
  await recordEvent(db, backup.id, 1, 'drill.failed', 'pg_restore exited 1: relation "orders" does not exist');
  await recordEvent(db, backup.id, 1, 'archive.corrupt', 'the archive digest does not match');
  await recordEvent(db, backup.id, 1, 'completed', null);
  clock = new Date();
  assert.equal((await sweep()).backupEvents, 2);
  assert.equal((await sweep()).backupEvents, 0, 'a second sweep finds them announced');
  const drill = await eventually(async () => received('drill.failed')[0], { what: 'the drill webhook' });
  assert.match(JSON.parse(drill.body).text, /a restore drill of backup b\d{3} of .+ failed: pg_restore exited 1/);
  await eventually(async () => received('archive.corrupt')[0], { what: 'the archive webhook' });
});

test('a Heroku connection that needs reconnecting is announced once a day until it is reconnected', async () => {
  const grant = {
    accessCiphertext: 'v1.x.y.z.w',
    refreshCiphertext: 'v1.x.y.z.w',
    expiresAt: new Date(),
    herokuUserId: randomUUID(),
    herokuEmail: 'owner@example.com',
    connectedBy: 'owner@example.com',
  };
  await saveConnection(db, uuid, grant);
  await markReconnectNeeded(db, uuid, 'Heroku refused to refresh the authorization (invalid_grant)');
  clock = new Date(Date.now() + HOUR);
  assert.equal((await sweep()).reconnect, 1);
  clock = new Date(clock.getTime() + 12 * HOUR);
  assert.equal((await sweep()).reconnect, 0, 'not again the same day');
  const hook = await eventually(async () => received('reconnect.needed')[0], { what: 'the reconnect webhook' });
  assert.match(JSON.parse(hook.body).text, /reconnect Heroku for .+: Heroku refused to refresh the authorization/);
  await saveConnection(db, uuid, grant);
  assert.equal((await sweep()).reconnect, 0);
  const { rows } = await db.query(
    `select 1 from notification_conditions where resource_id = $1 and condition = 'reconnect'`,
    [uuid],
  );
  assert.equal(rows.length, 0, 'reconnecting ends the condition');
});
