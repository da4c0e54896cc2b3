import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { CONNECT_CLIENT, connectClientEnv, connectedResource } from '../../support/factories.ts';
import {
  startSourceServer,
  seedSourceDatabase,
  addBigTable,
  fingerprintDatabase,
  restoreArchive,
} from '../../support/seed-source.ts';
import { cancelBackup, requestBackup } from '../../../src/backups/backups.service.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { listPieces } from '../../../src/backups/backup-pieces.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { BOSS_SCHEMA } from '../../../src/queue/boss.ts';
import type { Backup } from '../../../src/backups/backup.ts';

// Sharded capture against the real thing: worker processes (src/bin/worker.ts) sharing one backup's
// pieces through pg-boss, a fork made by the Heroku simulator on a real PostgreSQL server, archives in
// the S3 test server. Tables are split at 1 MB so a small database gives many pieces. Queue timings
// are shortened through pg-boss's own updateQueue (heartbeats, retry delays), not by changing the product.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives');
const server = await startSourceServer();
after(() => server.stop());
const { app, sim, secrets } = await startStack({
  worker: false,
  sim: { oauthClients: [CONNECT_CLIENT], postgres: { adminUrl: server.url('postgres') }, forkReadyAfterMs: 200 },
  env: { ...connectClientEnv, STORAGE_URL: storageUrl, ...s3.env, FORK_POLL_INTERVAL_SECONDS: '0.2' },
});
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());

// Another process supervises often, so a dead worker's piece is retried within seconds of its heartbeat.
const supervisor = new PgBoss({
  connectionString: app.config.DATABASE_URL,
  schema: BOSS_SCHEMA,
  migrate: false,
  supervise: true,
  schedule: false,
  superviseIntervalSeconds: 1,
});
supervisor.on('error', () => {});
await supervisor.start();
after(() => supervisor.stop({ graceful: false, close: true }));

let databases = 0;

/** A connected add-on whose app's DATABASE is a seeded database with a table of several MB. */
async function shardableResource(plan: string) {
  const name = `prod_${++databases}`;
  const databaseUrl = await seedSourceDatabase(server, name);
  await addBigTable(server, name, 60_000);
  const resource = await connectedResource({ app, sim }, { databaseUrl });
  if (plan !== 'standard') await db.query('update resources set plan = $2 where id = $1', [resource.uuid, plan]);
  return { ...resource, databaseUrl, name };
}

/** Platform API reads of an app's config vars so far (how a fork's URL is found). */
function configVarReads(): number {
  return sim.log.apiRequests().filter((r) => r.method === 'GET' && /\/config-vars$/.test(r.path)).length;
}

interface Worker {
  child: ReturnType<typeof spawn>;
  exited: Promise<unknown>;
  output: () => string;
}

async function startWorker(env: Record<string, string> = {}): Promise<Worker> {
  const child = spawn(process.execPath, ['src/bin/worker.ts'], {
    cwd: ROOT,
    env: {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/root',
      NODE_ENV: 'test',
      ...secrets,
      ...s3.env,
      ...connectClientEnv,
      DATABASE_URL: app.config.DATABASE_URL,
      PUBLIC_URL: app.config.PUBLIC_URL,
      STORAGE_URL: storageUrl,
      HEROKU_API_URL: sim.url,
      HEROKU_OAUTH_URL: sim.url,
      FORK_POLL_INTERVAL_SECONDS: '0.2',
      LOG_LEVEL: 'info',
      ALLOW_PRIVATE_DATABASE_HOSTS: 'true',
      SHARD_SPLIT_SIZE: '1MB',
      PIECE_CONCURRENCY: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = once(child, 'exit');
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  await eventually(async () => /worker started/.test(output) || undefined, {
    timeoutMs: 30_000,
    what: `the worker to start; it printed:\n${output}`,
  });
  // A starting worker sets the queues' options; jobs sent from now on carry these instead.
  await app.boss.updateQueue('backup-piece', { heartbeatSeconds: 10, retryDelay: 1, retryBackoff: false });
  return { child, exited, output: () => output };
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  worker.child.kill('SIGTERM');
  await worker.exited;
}

const settled = (id: string, timeoutMs = 180_000) =>
  eventually(
    async () => {
      const b = await findBackup(db, id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs, what: 'the backup to settle' },
  ).catch(async (error: unknown) => {
    const b = await findBackup(db, id);
    const pieces = await db.query(
      'select piece_no, state, attempts, worker, last_error from backup_pieces where backup_id = $1 order by piece_no',
      [id],
    );
    const jobs = await db.query(
      `select name, state, retry_count, data from pgboss.job where data->>'backupId' = $1 order by created_on`,
      [id],
    );
    const logs = await db.query('select message from backup_logs where backup_id = $1 order by id', [id]);
    throw new Error(
      `${(error as Error).message}: ${JSON.stringify({ backup: b, pieces: pieces.rows, jobs: jobs.rows, logs: logs.rows.map((l) => l.message) }, null, 1)}`,
    );
  });

/** Waits for the fork's teardown and checks Heroku (the simulator) no longer has it. */
async function assertForkGone(backupId: string): Promise<void> {
  const row = await eventually(
    async () => {
      const r = (await db.query('select fork_addon_id, fork_destroyed_at from backups where id = $1', [backupId]))
        .rows[0];
      return r?.fork_destroyed_at ? r : undefined;
    },
    { timeoutMs: 30_000, what: 'the fork teardown' },
  );
  const fork = sim.postgresAddons().find((a) => a.id === row.fork_addon_id);
  assert.equal(fork?.state, 'deprovisioned', 'Heroku no longer has the fork');
}

/** The fork's own database on the server, by the fork the backup recorded. */
async function forkDatabase(backupId: string): Promise<string> {
  const row = await eventually(
    async () =>
      (await db.query('select fork_addon_id from backups where id = $1 and fork_addon_id is not null', [backupId]))
        .rows[0],
    { what: 'the fork to be recorded' },
  );
  return sim.postgresAddons().find((a) => a.id === row.fork_addon_id)!.databaseName;
}

/** The archive restores into a fresh database whose rows equal the source's. */
async function assertRestoresEqual(backup: Backup, sourceUrl: string, name: string): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(backup.objectKey!)) chunks.push(chunk as Buffer);
  const restored = await restoreArchive(server, `restored_${name}`, Buffer.concat(chunks));
  // heroku_ext is Heroku's own schema, left out of every dump (--exclude-schema=heroku_ext).
  const source = Object.entries(await fingerprintDatabase(sourceUrl)).filter(
    ([k]) => !k.startsWith('table heroku_ext.'),
  );
  assert.deepEqual(await fingerprintDatabase(restored), Object.fromEntries(source));
}

/** Only the archive is left under the backup's prefix: every piece was removed. */
async function assertOnlyArchiveStored(backup: Backup): Promise<void> {
  const objects = await store.list(`tenants/${backup.resourceId}/${backup.id}/`);
  assert.deepEqual(
    objects.map((o) => o.key),
    backup.objectKey ? [backup.objectKey] : [],
  );
}

test('two worker processes share one backup’s pieces, and the assembled archive is verified and restores equal', async () => {
  const workers = [await startWorker(), await startWorker()];
  const r = await shardableResource('standard');
  const configReadsBefore = configVarReads();
  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  const done = await settled(requested.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.captureMode, 'sharded', done.captureModeReason ?? '');
  assert.ok(done.verifiedAt && done.sha256 && done.bytes);

  const pieces = await listPieces(db, done.id, done.attempt);
  assert.ok(pieces.length >= 4, `several pieces (${pieces.length})`);
  assert.ok(
    pieces.every((p) => p.state === 'done' && p.sha256 && p.bytes !== null),
    'every piece done on proof',
  );
  assert.ok(pieces.filter((p) => p.table === 'big').length >= 3, 'the table above the split size was cut into ranges');
  // Each worker asks Heroku for the fork's URL when it opens a session, not for every piece it dumps.
  const configReads = configVarReads() - configReadsBefore;
  assert.ok(configReads < pieces.length / 2, `${configReads} config-var reads for ${pieces.length} pieces`);
  const pids = new Set(pieces.map((p) => p.worker!.split(':').at(-1)));
  const workerPids = workers.map((w) => String(w.child.pid));
  assert.deepEqual(
    [...pids].filter((pid) => workerPids.includes(pid!)).length,
    2,
    `both workers dumped pieces (${[...pids].join(', ')})`,
  );

  await assertForkGone(done.id);
  await assertOnlyArchiveStored(done);
  await assertRestoresEqual(done, r.databaseUrl, r.name);
  for (const w of workers) await stopWorker(w);
});

test('a worker SIGKILLed after some pieces finished: the backup completes on another worker without dumping those pieces again', async () => {
  const doomed = await startWorker();
  const r = await shardableResource('basic');
  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  // A small table's piece runs late (largest first); hold a lock on it in the fork so that piece
  // is caught mid-run on the doomed worker once the others are done.
  const forkName = await forkDatabase(requested.id);
  await eventually(async () => (await listPieces(db, requested.id, 1)).length > 0 || undefined, {
    intervalMs: 20,
    what: 'the plan to be recorded',
  });
  const blocker = new pg.Client(server.url(forkName));
  blocker.on('error', () => {}); // the fork's teardown ends this session
  await blocker.connect();
  after(() => blocker.end().catch(() => {}));
  await blocker.query('begin');
  await blocker.query('lock table sales.orders in access exclusive mode');
  const caught = await eventually(
    async () => {
      const pieces = await listPieces(db, requested.id, 1);
      const running = pieces.find((p) => p.table === 'orders' && p.state === 'running');
      return running && pieces.some((p) => p.state === 'done') ? { pieces, running } : undefined;
    },
    { timeoutMs: 60_000, what: 'the orders piece to be running while others are done' },
  );
  assert.equal(caught.running.attempts, 1, 'the lock was taken before the orders piece first ran');
  doomed.child.kill('SIGKILL');
  await doomed.exited;
  await blocker.query('rollback');
  const doneBefore = (await listPieces(db, requested.id, 1)).filter((p) => p.state === 'done');
  assert.ok(doneBefore.length > 0);

  const rescuer = await startWorker();
  const done = await settled(requested.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.attempt, 1, 'the backup carried on in the same attempt');
  const after_ = await listPieces(db, requested.id, 1);
  for (const before of doneBefore) {
    const now = after_.find((p) => p.no === before.no)!;
    assert.equal(now.attempts, before.attempts, `piece ${before.no} was not dumped again`);
    assert.equal(now.startedAt?.getTime(), before.startedAt?.getTime(), `piece ${before.no} was not started again`);
    assert.equal(now.sha256, before.sha256);
  }
  const resumed = after_.find((p) => p.no === caught.running.no)!;
  assert.equal(resumed.state, 'done');
  assert.ok(resumed.attempts >= 2, 'the killed piece ran again');
  assert.ok(resumed.worker!.endsWith(`:${rescuer.child.pid}`), 'on the other worker');

  await assertForkGone(done.id);
  await assertOnlyArchiveStored(done);
  await assertRestoresEqual(done, r.databaseUrl, r.name);
  await stopWorker(rescuer);
});

test('a piece that keeps failing fails the backup naming the piece, leaves nothing in storage, and the fork is destroyed', async () => {
  const worker = await startWorker();
  const r = await shardableResource('basic');
  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  const forkName = await forkDatabase(requested.id);
  await eventually(async () => (await listPieces(db, requested.id, 1)).length > 0 || undefined, {
    intervalMs: 20,
    what: 'the plan to be recorded',
  });
  // After planning, the fork loses a table its plan names: that piece's COPY fails on every run.
  const fork = new pg.Client(server.url(forkName));
  await fork.connect();
  await fork.query('alter table sales.orders rename to orders_gone');
  await fork.end();

  const done = await settled(requested.id);
  assert.equal(done.state, 'failed');
  assert.match(done.failureReason ?? '', /piece \d+ \(sales\.orders\) failed 4 times/);
  const orders = (await listPieces(db, requested.id, 1)).find((p) => p.table === 'orders')!;
  assert.equal(orders.state, 'failed');
  assert.equal(orders.attempts, 4, 'its first run and three retries');

  await assertForkGone(done.id);
  assert.deepEqual(await store.list(`tenants/${r.uuid}/`), [], 'no piece and no archive is left');
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${r.uuid}/`), []);
  await stopWorker(worker);
});

test('canceling a sharded backup stops its pieces, removes what they stored and destroys the fork', async () => {
  const worker = await startWorker();
  const r = await shardableResource('basic');
  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  const forkName = await forkDatabase(requested.id);
  await eventually(async () => (await listPieces(db, requested.id, 1)).length > 0 || undefined, {
    intervalMs: 20,
    what: 'the plan to be recorded',
  });
  // A piece waits on this lock, so the backup is reliably mid-way when it is canceled.
  const blocker = new pg.Client(server.url(forkName));
  blocker.on('error', () => {}); // the fork's teardown ends this session
  await blocker.connect();
  after(() => blocker.end().catch(() => {}));
  await blocker.query('begin');
  await blocker.query('lock table sales.orders in access exclusive mode');
  await eventually(
    async () =>
      (await listPieces(db, requested.id, 1)).some((p) => p.table === 'orders' && p.state === 'running') || undefined,
    { timeoutMs: 60_000, what: 'the orders piece to be running' },
  );
  await cancelBackup(web, r.uuid, requested.id, r.owner);
  const done = await settled(requested.id, 30_000);
  assert.equal(done.state, 'canceled', `${done.failureKind}: ${done.failureReason}`);
  await assertForkGone(done.id);
  assert.deepEqual(await store.list(`tenants/${r.uuid}/`), [], 'no piece is left');
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${r.uuid}/`), []);
  // The resource's slot is free again: a new backup may be requested.
  assert.ok(await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }));
  await stopWorker(worker);
});
