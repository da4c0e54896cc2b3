import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { Readable } from 'node:stream';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack } from '../../support/stack.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { eventually } from '../../support/app.ts';
import { forceCompleted, forceFailed, jobDeps, pendingBackupRow } from '../../support/factories.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { insertBackup, beginAttempt, findBackup } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { MANIFEST_SUFFIX } from '../../../src/storage/keys.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { backupJanitor } from '../../../src/jobs/backup-janitor.ts';
import type { JobDeps } from '../../../src/jobs/deps.ts';

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

test("never deletes a completed backup's archive whose manifest is lost; marks the backup for re-verification", async () => {
  const { uuid } = await sim.provision();
  const b = (await insertBackup(db, {
    id: randomUUID(),
    resourceId: uuid,
    trigger: 'manual',
    format: 'default',
    requestedBy: 'x',
  }))!;
  const key = `tenants/${uuid}/${b.id}/attempt-1.dump`;
  const stored = await store.upload(key, Readable.from([Buffer.from('a verified archive')]));
  await db.query(
    `update backups set state = 'completed', object_key = $2, bytes = $3, sha256 = $4, finished_at = now(), verified_at = now() where id = $1`,
    [b.id, key, stored.bytes, stored.sha256],
  );
  // The sidecar is lost (an operator's cleanup, a lifecycle rule, a partial restore of the bucket).
  const root = fileURLToPath(app.config.STORAGE_URL!);
  await rm(path.join(root, ...key.split('/')) + MANIFEST_SUFFIX);
  assert.equal((await store.head(key))!.manifest, null);

  const errors: Array<{ obj: unknown; msg: string }> = [];
  const logger = Object.create(deps.logger, {
    error: { value: (obj: unknown, msg: string) => errors.push({ obj, msg }) },
  }) as JobDeps['logger'];
  const report = await backupJanitor({ ...deps, logger }, {}, undefined, later(25 * 3600_000));
  assert.ok(!report.removedObjects.includes(key), 'the claimed archive is not removed');
  assert.ok(await store.head(key), 'the archive is still stored');
  assert.deepEqual(report.needsReverification, [b.id]);
  const marked = (await findBackup(db, b.id))!;
  assert.equal(marked.state, 'completed', 'the backup is not failed by the janitor');
  assert.ok(marked.reverificationRequestedAt instanceof Date, 'the backup is marked as needing re-verification');
  assert.match(marked.reverificationReason ?? '', /manifest/);
  assert.ok(
    (await listEvents(db, b.id)).some((e) => e.state === 'needs_reverification'),
    "the mark is in the backup's history",
  );
  assert.equal(errors.length, 1, 'an error is logged');
  assert.match(errors[0]!.msg, /manifest/);

  const again = await backupJanitor({ ...deps, logger }, {}, undefined, later(26 * 3600_000));
  assert.ok(await store.head(key), 'a later pass keeps it too');
  assert.deepEqual(again.needsReverification, [b.id], 'still reported');
  assert.equal(errors.length, 1, 'the error is logged once, when the backup is marked');
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
