import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import {
  backupIn,
  jobDeps,
  pendingBackupRow,
  resourceWithDirectSource,
  seededSourceServer,
} from '../../support/factories.ts';
import type { BackupState } from '../../../src/backups/backup.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { addBigTable } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { findBackup, insertBackup, type NewBackup } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { runBackup } from '../../../src/jobs/run-backup.ts';

// Backups into the S3-protocol server, with faults in storage, in the database and in the queue.
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives', { part_size: '5MiB' });
const stack = await startStack({
  env: { STORAGE_URL: storageUrl, BACKUP_STALL_TIMEOUT_SECONDS: '5', ...s3.env },
});
const { app } = stack;
const { server, sourceUrl } = await seededSourceServer();
await addBigTable(server, 'shop', 300_000);
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());

const resource = () => resourceWithDirectSource(stack, sourceUrl);
const until = (id: string, states: BackupState[], timeoutMs = 60_000) => backupIn(db, id, { states, timeoutMs });
/** Waits for the first attempt to fail (the backup then waits for its retry, with the reason shown). */
const firstFailure = (id: string, timeoutMs = 60_000) =>
  eventually(
    async () => {
      const b = await findBackup(db, id);
      return b?.failureKind ? b : undefined;
    },
    { timeoutMs, what: 'first attempt to fail' },
  );
/** Cancels the queued retry, so it does not run into later tests. */
const dropRetry = async (id: string) => {
  const job = await db.query(`select id from pgboss.job where name = 'backup' and data->>'backupId' = $1`, [id]);
  await app.boss.cancel('backup', job.rows[0].id);
};
const nothingLeft = async (resourceId: string) => {
  assert.deepEqual(await store.list(`tenants/${resourceId}/`), [], 'no object');
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), [], 'no open multipart upload');
};

test('completes into S3 with the digest in the bucket, and a presigned download of the same bytes', async () => {
  const resourceId = await resource();
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  const done = await until(requested!.id, ['completed', 'failed']);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  const info = await store.head(done.objectKey!);
  assert.equal(info?.manifest?.sha256, done.sha256);
  const url = await store.presignGet(done.objectKey!, { expiresInSeconds: 60, filename: `${done.name}.dump` });
  const body = Buffer.from(await (await fetch(url!)).arrayBuffer());
  const { createHash } = await import('node:crypto');
  assert.equal(createHash('sha256').update(body).digest('hex'), done.sha256);
});

test('an upload part that keeps failing fails the attempt visibly, aborts the upload and leaves nothing', async () => {
  const resourceId = await resource();
  s3.faults.failUploadPart = 2;
  try {
    const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
    const after1 = await firstFailure(requested!.id);
    assert.match(after1.failureKind!, /^storage_/);
    assert.equal(after1.state, 'pending', 'waiting for its retry, with the reason shown');
    assert.ok(s3.requests.some((r) => r.operation === 'AbortMultipartUpload'));
    await nothingLeft(resourceId);
    await dropRetry(requested!.id);
  } finally {
    s3.faults = {};
  }
});

test('a database connection terminated mid-dump fails the attempt as dump_failed and leaves nothing', async () => {
  const resourceId = await resource();
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  // Keep cutting pg_dump's connection while it copies data, until the attempt notices: a single try
  // could come too late for a small table, and then there would be nothing to prove.
  const admin = new pg.Client(server.url('shop'));
  await admin.connect();
  let failedYet = false;
  const killer = (async () => {
    while (!failedYet) {
      await admin.query(
        `select pg_terminate_backend(pid) from pg_stat_activity where application_name = 'big-backup' and query like 'COPY %' and pid <> pg_backend_pid()`,
      );
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  })();
  const failed = await firstFailure(requested!.id).finally(() => {
    failedYet = true;
  });
  await killer;
  await admin.end();
  assert.equal(failed.failureKind, 'dump_failed');
  assert.doesNotMatch(failed.failureReason!, /pw:|secret/);
  await nothingLeft(resourceId);
  await dropRetry(requested!.id);
});

test('the watchdog fails a dump that moves no bytes', async () => {
  const resourceId = await resource();
  const locker = new pg.Client(server.url('shop'));
  await locker.connect();
  await locker.query('begin');
  await locker.query('lock table public.customers in access exclusive mode');
  try {
    const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
    const failed = await firstFailure(requested!.id);
    assert.equal(failed.failureKind, 'stalled');
    await dropRetry(requested!.id);
  } finally {
    await locker.query('rollback');
    await locker.end();
  }
  await nothingLeft(resourceId);
});

test('a stale attempt cannot complete: the newer attempt wins, the stale one removes its own archive', async () => {
  const resourceId = await resource();
  // The row without a queued job, so this test alone decides which attempts run.
  const fields: NewBackup = { id: randomUUID(), resourceId, trigger: 'manual', format: 'default', requestedBy: 'x' };
  const backup = (await insertBackup(db, fields))!;
  const deps = jobDeps(app, { store, backup: { stallTimeoutMs: 60_000, cancelPollMs: 250 } });
  const job = (retryCount: number) => ({
    id: 'job',
    signal: new AbortController().signal,
    retryCount,
    expireInSeconds: 3600,
  });
  // Attempt 1 starts; while it dumps, pg-boss (say, after a missed heartbeat) hands the job out again.
  const first = runBackup(deps, { backupId: backup.id }, job(0));
  await eventually(async () => (await findBackup(db, backup.id))?.phase === 'dumping', { what: 'attempt 1 dumping' });
  const second = runBackup(deps, { backupId: backup.id }, job(1));
  await Promise.all([first, second]);
  const done = (await findBackup(db, backup.id))!;
  assert.equal(done.state, 'completed');
  assert.equal(done.attempt, 2);
  assert.match(done.objectKey!, /attempt-2\.dump$/);
  const objects = (await store.list(`tenants/${resourceId}/`)).map((o) => o.key);
  assert.deepEqual(objects, [done.objectKey], "only the winning attempt's archive remains");
  const completions = (await listEvents(db, backup.id)).filter((e) => e.state === 'completed');
  assert.deepEqual(
    completions.map((e) => e.attempt),
    [2],
  );
});

/** A backup row without a queued job, and what runBackup needs, so a test drives its attempts itself. */
async function directAttempt() {
  const resourceId = await resource();
  const backup = await pendingBackupRow(db, resourceId);
  const deps = jobDeps(app, { store, backup: { stallTimeoutMs: 60_000, cancelPollMs: 250 } });
  return { resourceId, backup, deps };
}

/** Holds a lock that pg_dump waits on, so a dump stays in progress until the test is done with it. */
async function whileDumpBlocked<T>(body: () => Promise<T>): Promise<T> {
  const locker = new pg.Client(server.url('shop'));
  await locker.connect();
  await locker.query('begin');
  await locker.query('lock table public.customers in access exclusive mode');
  try {
    return await body();
  } finally {
    await locker.query('rollback');
    await locker.end();
  }
}

test("a backup that reaches its plan's time limit fails at once as timed out, and is not retried", async () => {
  const { resourceId, backup, deps } = await directAttempt();
  await whileDumpBlocked(async () => {
    // Returns (no throw, so pg-boss does not retry) once the attempt stopped itself before expiry.
    await runBackup(
      deps,
      { backupId: backup.id },
      { id: 'job', signal: new AbortController().signal, retryCount: 0, expireInSeconds: 4 },
    );
  });
  const failed = (await findBackup(db, backup.id))!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failureKind, 'timed_out');
  assert.match(failed.failureReason ?? '', /did not finish within the plan's limit of 4 seconds/);
  await nothingLeft(resourceId);
});

test('a worker shutting down mid-dump fails the attempt as interrupted and leaves it to a retry', async () => {
  const { resourceId, backup, deps } = await directAttempt();
  const shutdown = new AbortController();
  await whileDumpBlocked(async () => {
    const attempt = runBackup(
      deps,
      { backupId: backup.id },
      { id: 'job', signal: shutdown.signal, retryCount: 0, expireInSeconds: 3600 },
    );
    await eventually(async () => (await findBackup(db, backup.id))?.phase === 'dumping', { what: 'dumping' });
    shutdown.abort();
    await assert.rejects(attempt, 'thrown, so pg-boss retries it');
  });
  const waiting = (await findBackup(db, backup.id))!;
  assert.equal(waiting.failureKind, 'interrupted');
  assert.notEqual(waiting.state, 'failed', 'not final: a retry will run it again');
  await nothingLeft(resourceId);
});
