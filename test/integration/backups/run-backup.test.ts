import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { backupIn, resourceWithDirectSource, seededSourceServer } from '../../support/factories.ts';
import { startSourceServer, addBigTable } from '../../support/seed-source.ts';
import { requestBackup, cancelBackup } from '../../../src/backups/backups.service.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { tailLogs } from '../../../src/backups/backup-logs.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { AppError } from '../../../src/errors.ts';
import { freePort } from '../../../dev/db/local-cluster.ts';

const stack = await startStack();
const { app, sim } = stack;
const { server, sourceUrl } = await seededSourceServer();
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
const store = await openObjectStore(app.config.STORAGE_URL!, {});
after(() => store.close());

const resourceWithSource = (url = sourceUrl) => resourceWithDirectSource(stack, url);
const settled = (id: string, timeoutMs = 60_000) => backupIn(db, id, { timeoutMs });

test('a manual backup runs to completed, numbered b001, with digest, sizes, versions, events and log', async () => {
  const resourceId = await resourceWithSource();
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'admin@example.com' });
  assert.equal(requested!.name, 'b001');
  assert.equal(requested!.state, 'pending');
  const done = await settled(requested!.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.match(done.sha256!, /^[0-9a-f]{64}$/);
  assert.ok(done.bytes! > 0 && done.sourceBytes! > 0);
  assert.ok(done.tableCount! >= 3);
  assert.match(done.serverVersion!, /^15\./);
  assert.ok(done.verifiedAt && done.finishedAt);
  assert.match(done.restoreCommand!, /pg_restore/);
  const info = await store.head(done.objectKey!);
  assert.equal(info?.bytes, done.bytes);
  assert.equal(info?.manifest?.sha256, done.sha256);
  assert.deepEqual(
    (await listEvents(db, done.id)).map((e) => e.state),
    ['pending', 'running', 'verifying', 'completed'],
  );
  const log = (await tailLogs(db, done.id)).map((l) => l.message).join('\n');
  assert.match(log, /dumping contents of table/);
  assert.match(log, /verified: \d+ tables/);
  assert.ok(!log.includes(server.password), 'no password in the log');
  const second = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'admin@example.com' });
  assert.equal(second!.name, 'b002');
  await settled(second!.id);
});

test('allows one queued-or-running backup per resource, and another resource runs meanwhile', async () => {
  const a = await resourceWithSource();
  const b = await resourceWithSource();
  const first = await requestBackup(web, a, { trigger: 'manual', requestedBy: 'x' });
  await assert.rejects(
    requestBackup(web, a, { trigger: 'manual', requestedBy: 'x' }),
    (e: unknown) => e instanceof AppError && e.status === 409 && /already queued or running/.test(e.message),
  );
  const other = await requestBackup(web, b, { trigger: 'manual', requestedBy: 'x' });
  assert.ok(other);
  assert.equal((await settled(first!.id)).state, 'completed');
  assert.equal((await settled(other.id)).state, 'completed');
  const numbers = await db.query(`select count(*)::int as n from backups where resource_id = $1`, [a]);
  assert.equal(numbers.rows[0].n, 1, 'the refused request left no row');
});

test('a database newer than any pg_dump fails at once, with both versions named, and is not retried', async () => {
  const newer = await startSourceServer(await (await import('../../../dev/db/local-cluster.ts')).embeddedBinDir());
  after(() => newer.stop());
  const resourceId = await resourceWithSource(newer.url('postgres'));
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  const done = await settled(requested!.id);
  assert.equal(done.state, 'failed');
  assert.equal(done.failureKind, 'version_mismatch');
  assert.match(done.failureReason!, /17.*15|15.*17/);
  assert.equal(done.attempt, 1, 'no retry');
});

test('without a source the backup fails with a reason the customer can act on', async () => {
  const { uuid } = await sim.provision();
  const done = await settled((await requestBackup(web, uuid, { trigger: 'manual', requestedBy: 'x' }))!.id);
  assert.equal(done.state, 'failed');
  assert.equal(done.failureKind, 'no_source');
});

test('cancel stops a running dump within seconds and leaves no archive', async () => {
  await addBigTable(server, 'shop', 400_000);
  const resourceId = await resourceWithSource();
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  await eventually(async () => (await findBackup(db, requested!.id))?.phase === 'dumping', { what: 'dumping' });
  const asked = Date.now();
  await cancelBackup(web, resourceId, requested!.id, 'admin@example.com');
  const done = await settled(requested!.id, 30_000);
  assert.equal(done.state, 'canceled');
  assert.ok(Date.now() - asked < 10_000, 'stopped within seconds');
  assert.deepEqual(await store.list(`tenants/${resourceId}/`), []);
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), []);
});

test('a backup canceled right after it was requested ends canceled, whether or not it had started', async () => {
  const resourceId = await resourceWithSource();
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  await cancelBackup(web, resourceId, requested!.id, 'x');
  assert.equal((await settled(requested!.id)).state, 'canceled');
  assert.deepEqual(await store.list(`tenants/${resourceId}/`), []);
});

test('a backup waiting to retry is canceled at once, and its queued retry no longer blocks a new capture', async () => {
  // Nothing listens on this port: the attempt fails with a retryable connection error.
  const unreachable = new URL(sourceUrl);
  unreachable.port = String(await freePort());
  const resourceId = await resourceWithSource(unreachable.toString());
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  const waiting = await eventually(
    async () => {
      const b = await findBackup(db, requested!.id);
      return b?.state === 'pending' && b.attempt === 1 ? b : undefined;
    },
    { timeoutMs: 30_000, what: 'the first attempt to fail and wait for its retry' },
  );
  assert.equal(waiting.failureKind, 'connection_failed');
  const canceled = await cancelBackup(web, resourceId, requested!.id, 'admin@example.com');
  assert.equal(canceled.state, 'canceled');
  assert.match(canceled.failureReason!, /while waiting to retry/);
  const next = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  assert.equal(next!.name, 'b002');
  await cancelBackup(web, resourceId, next!.id, 'x');
  await settled(next!.id);
});

test('deprovision during a backup cancels it within seconds and the purge removes every archive', async () => {
  const resourceId = await resourceWithSource();
  const first = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  assert.equal((await settled(first!.id)).state, 'completed');
  // The row completes a moment before pg-boss marks the job done; until then the queue is still busy.
  const running = await eventually(
    () => requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' }).catch(() => undefined),
    { what: 'queue free' },
  );
  await eventually(async () => (await findBackup(db, running.id))?.phase === 'dumping', { what: 'dumping' });
  assert.equal((await sim.deprovision(resourceId)).result, 'deprovisioned');
  await eventually(
    async () => (await db.query('select purged_at from resources where id = $1', [resourceId])).rows[0].purged_at,
    { timeoutMs: 60_000, what: 'purge' },
  );
  assert.deepEqual(await store.list(`tenants/${resourceId}/`), []);
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), []);
  assert.equal(
    (await db.query('select count(*)::int as n from backups where resource_id = $1', [resourceId])).rows[0].n,
    0,
  );
});
