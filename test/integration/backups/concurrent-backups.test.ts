import test, { after } from 'node:test';
import { randomUUID } from 'node:crypto';
import assert from 'node:assert/strict';
import { startStack, Browser } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../../support/seed-source.ts';
import { jobDeps } from '../../support/factories.ts';
import { startThrottlingProxy } from '../../support/throttling-proxy.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup, insertBackup } from '../../../src/backups/backups.repo.ts';
import { findResource } from '../../../src/resources/resources.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { runBackup } from '../../../src/jobs/run-backup.ts';
import { AppError } from '../../../src/errors.ts';
import { QUEUES, deadLetterName } from '../../../src/queue/queues.ts';
import type { Backup } from '../../../src/backups/backup.ts';

// One worker process runs several backups at once (BACKUP_CONCURRENCY), never two of one resource, and
// gives each tenant (a Heroku app) at most its share (BACKUP_TENANT_CONCURRENCY, default 1), so a burst
// of one app's backups cannot hold every slot. The source is read through a proxy that passes 1 MB/s,
// so each dump lasts several seconds and overlaps are there to be seen.
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives', { part_size: '5MiB' });
const { app, sim } = await startStack({ env: { STORAGE_URL: storageUrl, BACKUP_CONCURRENCY: '3', ...s3.env } });
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());
const server = await startSourceServer();
after(() => server.stop());
await seedSourceDatabase(server, 'shop');
await addBigTable(server, 'shop', 100_000);
const proxy = await startThrottlingProxy(server.cluster.port, 1_000_000);
after(() => proxy.close());
const slowSource = proxy.url(server.url('shop'));
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };

/** Every running attempt seen, sampled every 50 ms while the tests run: the overlaps that happened. */
const overlaps: Array<Array<Pick<Backup, 'id' | 'resourceId'>>> = [];
const sampler = setInterval(() => {
  db.query<{ id: string; resource_id: string }>(
    `select id, resource_id from backups where state in ('running', 'verifying')`,
  ).then(
    (result) => overlaps.push(result.rows.map((r) => ({ id: r.id, resourceId: r.resource_id }))),
    () => {},
  );
}, 50);
after(() => clearInterval(sampler));

/** A provisioned add-on on `appName` (made when missing), once our worker has learned its app. */
async function addon(appName: string): Promise<string> {
  const { uuid } = await sim.provision({ plan: 'standard', app: appName });
  await setDirectSource(db, app.runtime.secrets, uuid, slowSource, 'admin@example.com');
  await eventually(async () => (await findResource(db, uuid))?.appId, { timeoutMs: 30_000, what: "the add-on's app" });
  return uuid;
}
const capture = async (resourceId: string) =>
  (await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'admin@example.com' }))!;
const settled = (id: string) =>
  eventually(
    async () => {
      const b = await findBackup(db, id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs: 120_000, what: 'backup to settle' },
  );
const running = async (id: string) => (await findBackup(db, id))?.state === 'running';

test("two add-ons' backups run at the same time on one worker", async () => {
  const [first, second] = [await addon('tenant-a'), await addon('tenant-b')];
  const backups = [await capture(first), await capture(second)];
  await eventually(async () => (await running(backups[0]!.id)) && (await running(backups[1]!.id)), {
    timeoutMs: 30_000,
    intervalMs: 50,
    what: 'both backups running at once',
  });
  for (const backup of backups) {
    const done = await settled(backup.id);
    assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  }
});

test('one add-on never runs two backups: a second request while one runs is refused', async () => {
  const resourceId = await addon('tenant-c');
  const backup = await capture(resourceId);
  await eventually(() => running(backup.id), { what: 'the backup running' });
  await assert.rejects(
    capture(resourceId),
    (e: unknown) => e instanceof AppError && e.status === 409 && /already queued or running/.test(e.message),
  );
  const done = await settled(backup.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
});

test("one app's burst of backups takes one slot at a time, and another app's backup runs beside it", async () => {
  // Three add-ons of one app ask first; with three slots and no tenant limit they would take them all.
  const burst = [await addon('tenant-burst'), await addon('tenant-burst'), await addon('tenant-burst')];
  const other = await addon('tenant-other');
  const burstBackups = [];
  for (const resourceId of burst) burstBackups.push(await capture(resourceId));
  const otherBackup = await capture(other);
  await eventually(() => running(otherBackup.id), {
    timeoutMs: 30_000,
    intervalMs: 50,
    what: "the other app's backup to start while the burst is queued",
  });
  const burstStates = await Promise.all(burstBackups.map(async (b) => (await findBackup(db, b.id))!.state));
  assert.ok(
    burstStates.includes('pending'),
    `the burst still waits for its turn (${burstStates.join(', ')}), so the other app did not wait behind all of it`,
  );
  for (const backup of [...burstBackups, otherBackup]) {
    const done = await settled(backup.id);
    assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  }
  const burstIds = new Set(burstBackups.map((b) => b.id));
  const mostAtOnce = Math.max(...overlaps.map((seen) => seen.filter((b) => burstIds.has(b.id)).length));
  assert.equal(mostAtOnce, 1, 'the burst app never held two slots');
});

test('no resource ever had two attempts running at once, while backups did overlap', () => {
  assert.ok(overlaps.length > 100, 'the sampler ran');
  for (const seen of overlaps) {
    const resources = seen.map((b) => b.resourceId);
    assert.equal(new Set(resources).size, resources.length, `one running backup per resource: ${resources.join(', ')}`);
  }
  assert.ok(Math.max(...overlaps.map((seen) => seen.length)) >= 2, 'backups ran side by side');
});

test('a source slower than the throughput floor fails as too_slow, is retried once, dead-lettered, and leaves nothing', async () => {
  const resourceId = await addon('tenant-slow');
  // The row without a queued job, so the test runs its attempts itself, with a floor this source cannot reach.
  const backup = (await insertBackup(db, {
    id: randomUUID(),
    resourceId,
    trigger: 'manual',
    format: 'default',
    requestedBy: 'x',
  }))!;
  const deps = jobDeps(app, {
    store,
    backup: {
      stallTimeoutMs: 60_000,
      cancelPollMs: 250,
      minThroughput: { bytesPerSecond: 8 * 1024 * 1024, windowMs: 3000 },
    },
  });
  const job = (retryCount: number) => ({
    id: 'job',
    signal: new AbortController().signal,
    retryCount,
    expireInSeconds: 3600,
  });
  await assert.rejects(runBackup(deps, { backupId: backup.id }, job(0)), 'thrown, so pg-boss retries it once');
  const first = (await findBackup(db, backup.id))!;
  assert.equal(first.failureKind, 'too_slow');
  assert.equal(first.state, 'pending', 'waiting for its one retry');
  assert.match(
    first.failureReason!,
    /under the minimum of 8 MiB\/s over 3 s/,
    'the message says how slow it was and what the floor is',
  );
  assert.match(first.failureReason!, /the database server or the network to it/);
  await runBackup(deps, { backupId: backup.id }, job(1));
  const second = (await findBackup(db, backup.id))!;
  assert.equal(second.state, 'failed', 'the retry failed the same way, and that is final');
  assert.equal(second.failureKind, 'too_slow');
  // Its own retry budget ran out before the queue's: the handler returned, so pg-boss would count the
  // job completed; it must still leave the dead-letter record a queue-exhausted failure leaves.
  const deadLetters = await db.query<{ n: number }>(
    `select count(*)::int as n from pgboss.job where name = $1 and data->>'backupId' = $2`,
    [deadLetterName(QUEUES.backup.name), backup.id],
  );
  assert.equal(deadLetters.rows[0]!.n, 1, 'one dead-letter record');
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(resourceId))).status, 303);
  const html = await (await browser.request('GET', `/backups/${backup.id}`)).text();
  assert.match(html, new RegExp(`Gave up after ${second.attempt} attempts`));
  assert.equal(second.attempt, 2);
  assert.deepEqual(await store.list(`tenants/${resourceId}/`), [], 'no object');
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), [], 'no open multipart upload');
});
