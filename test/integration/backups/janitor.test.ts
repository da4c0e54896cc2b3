import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { startStack } from '../../support/stack.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { eventually } from '../../support/app.ts';
import { forceCompleted, forceFailed, jobDeps, pendingBackupRow } from '../../support/factories.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { beginAttempt, findBackup } from '../../../src/backups/backups.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { backupJanitor } from '../../../src/jobs/backup-janitor.ts';

const { app, sim } = await startStack();
const db = app.runtime.pool;
const store = await openObjectStore(app.config.STORAGE_URL!, {});
after(() => store.close());
const deps = jobDeps(app, { store });
const later = (ms: number) => new Date(Date.now() + ms);

test('fails a backup left running when its worker died and no job will retry it', async () => {
  const { uuid } = await sim.provision();
  const backup = await pendingBackupRow(db, uuid);
  await beginAttempt(db, backup.id); // an attempt started, then its process vanished with the job
  assert.deepEqual(
    (await backupJanitor(deps, {}, undefined, new Date())).abandonedBackups,
    [],
    'not within the grace period',
  );
  const report = await backupJanitor(deps, {}, undefined, later(11 * 60_000));
  assert.deepEqual(report.abandonedBackups, [backup.id]);
  const failed = (await findBackup(db, backup.id))!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failureKind, 'abandoned');
});

test("keeps completed backups' archives and removes old archives no backup claims", async () => {
  const server = await startSourceServer();
  after(() => server.stop());
  const { uuid } = await sim.provision();
  await setDirectSource(db, app.runtime.secrets, uuid, await seedSourceDatabase(server, 'shop'), 'x');
  const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, { trigger: 'manual', requestedBy: 'x' });
  const done = await eventually(
    async () => {
      const b = await findBackup(db, requested!.id);
      return b?.state === 'completed' ? b : undefined;
    },
    { timeoutMs: 60_000 },
  );
  const orphan = `tenants/${uuid}/${randomUUID()}/attempt-1.dump`;
  await store.upload(orphan, Readable.from([Buffer.from('left by a crashed attempt')]));
  const staleAttempt = `tenants/${uuid}/${done.id}/attempt-9.dump`;
  await store.upload(staleAttempt, Readable.from([Buffer.from('a stale attempt of a completed backup')]));
  assert.deepEqual((await backupJanitor(deps, {})).removedObjects, [], 'nothing young is touched');
  const report = await backupJanitor(deps, {}, undefined, later(25 * 3600_000));
  assert.deepEqual(report.removedObjects.sort(), [orphan, staleAttempt].sort());
  assert.ok(await store.head(done.objectKey!), 'the completed backup keeps its archive');
});

test('tells claimed archives from leftovers across many objects, a batch of lookups at a time', async () => {
  const { uuid } = await sim.provision();
  const claimed: string[] = [];
  const leftovers: string[] = [];
  for (let i = 0; i < 1200; i++) {
    const b = await pendingBackupRow(db, uuid);
    const key = `tenants/${uuid}/${b.id}/attempt-1.dump`;
    const stored = await store.upload(key, Readable.from([Buffer.from(`archive ${i}`)]));
    if (i % 3 === 0) {
      leftovers.push(key); // a failed attempt's archive
      await forceFailed(db, b.id, { kind: 'x' });
    } else {
      claimed.push(key);
      await forceCompleted(db, b.id, { archive: { key, bytes: stored.bytes, sha256: stored.sha256 } });
    }
  }
  const report = await backupJanitor(deps, {}, undefined, later(25 * 3600_000));
  assert.deepEqual(report.removedObjects.filter((key) => key.startsWith(`tenants/${uuid}/`)).sort(), leftovers.sort());
  assert.deepEqual((await store.list(`tenants/${uuid}/`)).map((o) => o.key).sort(), claimed.sort());
});

test('is scheduled every 10 minutes by the worker', async () => {
  const schedules = await app.boss.getSchedules();
  assert.ok(schedules.some((s) => s.name === 'backup-janitor' && s.cron === '*/10 * * * *'));
});
