import test from 'node:test';
import { Readable } from 'node:stream';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { jobDeps, provisionedResource, shardedBackupInFlight } from '../../support/factories.ts';
import { QUEUES } from '../../../src/queue/queues.ts';
import { beginAttempt, findBackup, markFailed } from '../../../src/backups/backups.repo.ts';
import { findShardedRun } from '../../../src/backups/sharded-backups.repo.ts';
import {
  countPieces,
  listPieces,
  recordPieceDone,
  recordPieceRunFailed,
  startPieceRun,
} from '../../../src/backups/backup-pieces.repo.ts';
import { dispatchPieces } from '../../../src/jobs/sharded/dispatch-pieces.ts';
import { shardSweeper } from '../../../src/jobs/sharded/shard-sweeper.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { pieceKeyFor } from '../../../src/backups/backup.ts';

// The per-backup limit and the fences of the sharded capture, against the real database and pg-boss
// (no worker runs here, so sent jobs stay queued and can be counted).
const { app, sim } = await startStack({ worker: false });
const db = app.runtime.pool;
const deps = jobDeps(app);
const token = async (id: string) =>
  (await db.query<{ t: string }>('select attempt_token as t from backups where id = $1', [id])).rows[0]!.t;
const queuedPieces = async (backupId: string) =>
  (await app.boss.findJobs(QUEUES.backupPiece.name, { data: { backupId }, queued: true })).length;

test('dispatchers racing each other never send more of one backup’s pieces than its plan allows at once', async () => {
  const { uuid } = await provisionedResource({ app, sim }, { plan: 'basic', awaitApp: false });
  const backup = await shardedBackupInFlight(db, uuid); // piece 2 running, piece 3 waiting
  const run = { id: backup.id, resourceId: uuid, attempt: 1, token: await token(backup.id) };
  const sent = await Promise.all([dispatchPieces(deps, run), dispatchPieces(deps, run), dispatchPieces(deps, run)]);
  // Basic runs 2 at once: piece 2 is running, so one more may go.
  assert.deepEqual(sent.flat(), [3]);
  assert.equal(await queuedPieces(backup.id), 1);
  assert.deepEqual(await dispatchPieces(deps, run), [], 'sent once only');
});

test('a piece of a replaced attempt, or of a run that lost its claim, is never counted done', async () => {
  const { uuid } = await provisionedResource({ app, sim }, { awaitApp: false });
  const backup = await shardedBackupInFlight(db, uuid);
  const first = await token(backup.id);
  const result = { no: 3, key: 'k/3', bytes: 1, sha256: 'cd'.repeat(32), rawBytes: 1, adler32: 1, rows: 1, seconds: 1 };
  const stale = (await startPieceRun(db, { backupId: backup.id, attempt: 1, token: first, no: 3, worker: 'a:1' }))!;
  // The worker running it is presumed dead; pg-boss's retry starts a new run of the same piece.
  const retry = (await startPieceRun(db, { backupId: backup.id, attempt: 1, token: first, no: 3, worker: 'b:2' }))!;
  assert.equal(retry.attempts, 2);
  const piece = { backupId: backup.id, attempt: 1, token: first, no: 3 };
  assert.equal(await recordPieceDone(db, { ...piece, runToken: stale.runToken }, result), false, 'the old run');
  assert.equal(await recordPieceRunFailed(db, { ...piece, runToken: stale.runToken }, 'late', true), false);

  // A newer attempt takes the backup over: the old attempt's pieces can no longer be recorded.
  await markFailed(db, backup.id, first, { kind: 'interrupted', reason: 'test', final: false });
  assert.ok(await beginAttempt(db, backup.id));
  assert.equal(await recordPieceDone(db, { ...piece, runToken: retry.runToken }, result), false, 'the old attempt');
  assert.equal((await countPieces(db, backup.id, 1)).done, 2, 'only the two done before');
  assert.equal(
    await startPieceRun(db, { backupId: backup.id, attempt: 1, token: first, no: 3, worker: 'c:3' }),
    undefined,
    'the old attempt cannot start a piece either',
  );
  const now = await findShardedRun(db, backup.id);
  assert.equal(now?.attempt, 2);
  assert.equal(now?.captureMode, null, 'the new attempt decides its own mode');
  assert.ok((await listPieces(db, backup.id, 1)).every((p) => p.state !== 'done' || p.no < 2));
});

test('the sweeper ends a sharded backup whose add-on was removed, and one past its own deadline, removing their pieces', async () => {
  const store = await openObjectStore(app.config.STORAGE_URL!, {});
  const sweeperDeps = jobDeps(app, { store });
  const removed = await provisionedResource({ app, sim }, { awaitApp: false });
  const gone = await shardedBackupInFlight(db, removed.uuid);
  const goneKey = pieceKeyFor(removed.uuid, gone.id, 1, 0, 1);
  await store.upload(goneKey, Readable.from([Buffer.from('piece')]));
  // Heroku removes the add-on: deprovisioning flags its unfinished backups to stop.
  assert.equal((await sim.deprovision(removed.uuid)).result, 'deprovisioned');

  const late = await provisionedResource({ app, sim }, { awaitApp: false });
  const overdue = await shardedBackupInFlight(db, late.uuid);
  await db.query(
    `update backups set started_at = now() - interval '49 hours', deadline_at = now() - interval '1 hour' where id = $1`,
    [overdue.id],
  );

  const report = await shardSweeper(sweeperDeps, {});
  assert.deepEqual(report.ended.sort(), [gone.id, overdue.id].sort());
  const ended = await findBackup(db, gone.id);
  assert.equal(ended?.state, 'canceled');
  assert.equal(await store.head(goneKey), null, 'its pieces are removed');
  const timedOut = await findBackup(db, overdue.id);
  assert.equal(timedOut?.state, 'failed');
  assert.equal(timedOut?.failureKind, 'timed_out');
  assert.match(timedOut?.failureReason ?? '', /within the plan's limit of 48 hours/);
  await store.close();
});
