import test from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startStack } from '../../support/stack.ts';
import { jobDeps, pendingBackupRow, provisionedResource, shardedBackupInFlight } from '../../support/factories.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { pieceKeyFor } from '../../../src/backups/backup.ts';
import { beginAttempt, markFailed } from '../../../src/backups/backups.repo.ts';
import { recordForkRequested } from '../../../src/forks/forks.repo.ts';
import { backupJanitor } from '../../../src/jobs/backup-janitor.ts';
import { forkJanitor } from '../../../src/jobs/fork-janitor.ts';

// A sharded backup may run for days (its plan's deadline) with no backup job: the janitors, which
// judge by the 24 hours any one job can live, must leave its fork and its pieces alone while it is in
// flight, and treat them as usual once it has ended.
const { app, sim } = await startStack({ worker: false });
const db = app.runtime.pool;
const store = await openObjectStore(app.config.STORAGE_URL!, {});
const deps = jobDeps(app, { store });
const dayLater = () => new Date(Date.now() + 25 * 3600_000);

test('the janitors spare the fork and pieces of a sharded backup in flight past 24 hours, and reap them once it ends', async () => {
  const { uuid } = await provisionedResource({ app, sim }, { awaitApp: false });
  const backup = await shardedBackupInFlight(db, uuid);
  const token = (await db.query('select attempt_token from backups where id = $1', [backup.id])).rows[0].attempt_token;
  assert.ok(
    await recordForkRequested(db, backup.id, token, {
      addonId: 'fork-addon-1',
      addonName: 'postgresql-fork-1',
      appName: 'scratch',
      plan: 'standard-0',
    }),
  );
  await db.query(`update backups set source_mode = 'fork' where id = $1`, [backup.id]);
  const pieceKey = pieceKeyFor(uuid, backup.id, 1, 0, 1);
  await store.upload(pieceKey, Readable.from([Buffer.from('piece bytes')]));
  const orphanKey = `tenants/${uuid}/${backup.id}/attempt-0.dump`;
  await store.upload(orphanKey, Readable.from([Buffer.from('an orphan')]));

  const janitor = await backupJanitor(deps, {}, undefined, dayLater());
  assert.ok(!janitor.abandonedBackups.includes(backup.id), 'not called abandoned: it has no backup job by design');
  assert.ok(janitor.removedObjects.includes(orphanKey), 'an object no backup claims is still removed');
  assert.ok(!janitor.removedObjects.includes(pieceKey), 'its piece is kept');
  assert.ok(await store.head(pieceKey));
  // Beside it, a single-stream attempt that died holding its fork: that fork is reaped after 24 hours.
  const single = await pendingBackupRow(db, uuid);
  const singleToken = (await beginAttempt(db, single.id))!.token;
  assert.ok(
    await recordForkRequested(db, single.id, singleToken, {
      addonId: 'fork-addon-2',
      addonName: 'postgresql-fork-2',
      appName: 'scratch',
      plan: 'standard-0',
    }),
  );
  assert.deepEqual(
    (await backupJanitor(deps, {}, undefined, dayLater())).abandonedBackups,
    [single.id],
    'a single-stream backup without its job is still called abandoned',
  );
  const forks = await forkJanitor(deps, {}, undefined, dayLater());
  // Without a connected Heroku account the teardown itself fails here; being tried is what counts.
  assert.deepEqual([...forks.destroyed, ...forks.failed], ['fork-addon-2'], 'only the other fork is reaped');

  assert.ok(await markFailed(db, backup.id, token, { kind: 'timed_out', reason: 'test', final: true }));
  const afterEnd = await backupJanitor(deps, {}, undefined, dayLater());
  assert.ok(afterEnd.removedObjects.includes(pieceKey), 'the pieces of an ended backup are removed');
  const reaped = await forkJanitor(deps, {}, undefined, dayLater());
  assert.ok(reaped.failed.includes('fork-addon-1'), 'the fork of an ended backup is reaped');
});
