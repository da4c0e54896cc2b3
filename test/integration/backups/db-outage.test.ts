import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../../support/seed-source.ts';
import { startThrottlingProxy } from '../../support/throttling-proxy.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { QUEUES } from '../../../src/queue/queues.ts';

// Our own database goes away mid-backup (trust.md scenario 22, issue 13): for 30 seconds it accepts
// no connection, and every connection the web and worker processes (and their pg-boss) held is
// terminated. Afterwards the backup must end, completed and verified or failed with a reason, never stuck
// running; it completes at most once; and the store holds its one archive or nothing, no open upload.

const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives', { part_size: '5MiB' });
const { app, sim } = await startStack({ env: { STORAGE_URL: storageUrl, ...s3.env } });
const db = app.runtime.pool;
// Retries after seconds, not minutes (the queue's limit and backoff stay as configured).
await app.boss.updateQueue(QUEUES.backup.name, { retryDelay: 1, retryBackoff: true, retryDelayMax: 10 });
const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await seedSourceDatabase(server, 'shop');
await addBigTable(server, 'shop', 300_000);
// A slow source, so the dump is still running when the outage begins.
const proxy = await startThrottlingProxy(Number(new URL(sourceUrl).port), 3 * 1024 * 1024);
after(() => proxy.close());
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());

const OUTAGE_MS = 30_000;

test("cutting our own database's connections for 30 s mid-backup ends it once, with nothing lost or left over", async (t) => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, uuid, proxy.url(sourceUrl), 'owner@example.com');
  const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, { trigger: 'manual', requestedBy: 'x' });
  const backupId = requested!.id;
  await eventually(async () => (await findBackup(db, backupId))?.state === 'running', {
    timeoutMs: 30_000,
    what: 'the backup to run',
  });
  // Give the dump a moment to move bytes, then cut.
  await new Promise((resolve) => setTimeout(resolve, 1500));

  // From the server's maintenance database: a database cannot refuse connections to itself.
  const name = new URL(app.config.DATABASE_URL).pathname.slice(1);
  const adminUrl = new URL(app.config.DATABASE_URL);
  adminUrl.pathname = '/postgres';
  const admin = new pg.Client(adminUrl.toString());
  await admin.connect();
  const cutFrom = new Date();
  const until = Date.now() + OUTAGE_MS;
  let terminated = 0;
  // No new connections either (this one stays), so the outage is whole, not a flicker between kills.
  await admin.query(`alter database "${name}" with allow_connections false`);
  try {
    while (Date.now() < until) {
      const { rows } = await admin.query<{ n: number }>(
        `select count(*)::int as n from (select pg_terminate_backend(pid) from pg_stat_activity
        where datname = $1 and backend_type = 'client backend') t`,
        [name],
      );
      terminated += rows[0]!.n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await admin.query(`alter database "${name}" with allow_connections true`);
    await admin.end();
  }
  assert.ok(terminated > 5, `the outage cut ${terminated} connections`);

  const ended = await eventually(
    async () => {
      const b = await findBackup(db, backupId).catch(() => undefined);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs: 150_000, intervalMs: 500, what: 'the backup to end after the outage' },
  );
  const events = (
    await db.query<{ attempt: number; state: string; at: Date }>(
      `select attempt, state, at from backup_events where backup_id = $1 order by id`,
      [backupId],
    )
  ).rows;
  const trail = events
    .map((e) => `${e.attempt}:${e.state}@${((e.at.getTime() - cutFrom.getTime()) / 1000).toFixed(1)}s`)
    .join(' ');
  t.diagnostic(`${terminated} connections cut; ended ${ended.state} (${ended.failureKind ?? '-'}); events ${trail}`);
  assert.ok(events.filter((e) => e.state === 'completed').length <= 1, `at most one completion: ${trail}`);
  const settled = events.find((e) => e.state === 'verifying' || e.state === 'failed' || e.state === 'completed');
  assert.ok(settled && settled.at > cutFrom, `the outage began while the dump ran (${trail})`);
  const rows = (await db.query('select id from backups where resource_id = $1', [uuid])).rows;
  assert.equal(rows.length, 1, 'one backup, not a duplicate');

  const objects = (await store.list(`tenants/${uuid}/`)).map((o) => o.key);
  if (ended.state === 'completed') {
    assert.ok(ended.verifiedAt, `completed means verified (${trail})`);
    assert.ok(ended.sha256, 'with its digest');
    assert.deepEqual(objects, [ended.objectKey], 'its one archive, no other attempt left one');
  } else {
    assert.equal(ended.state, 'failed', trail);
    assert.ok(ended.failureReason, `failed with a reason (${trail})`);
    assert.deepEqual(objects, [], 'no archive of a failed backup');
  }
  // Open multipart uploads: the janitor's business after its age limit, but a settled attempt aborts its own.
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${uuid}/`), [], 'no open upload');
  // And the queue is settled: no job of this backup still active or waiting.
  const open = (
    await db.query<{ state: string }>(
      `select state from pgboss.job where name = $1 and data->>'backupId' = $2 and state in ('created', 'retry', 'active')`,
      [QUEUES.backup.name, backupId],
    )
  ).rows;
  assert.deepEqual(open, [], `no job left running or queued (${trail})`);
});
