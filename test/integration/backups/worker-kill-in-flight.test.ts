import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PgBoss } from 'pg-boss';
import { startStack } from '../../support/stack.ts';
import { runMark } from '../../support/leftover-guard.ts';
import { eventually } from '../../support/app.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../../support/seed-source.ts';
import { startThrottlingProxy } from '../../support/throttling-proxy.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { backupJanitor, MAX_ATTEMPT_AGE_MS } from '../../../src/jobs/backup-janitor.ts';
import type { JobDeps } from '../../../src/jobs/deps.ts';
import { BOSS_SCHEMA } from '../../../src/queue/boss.ts';

// A worker process is killed while bytes are in flight: the source is read through a proxy that passes
// 4 MB/s, and the kill comes once at least two parts of the archive have reached the S3 server. A real
// signal to a real separate worker process (src/bin/worker.ts), as when a dyno is lost (SIGKILL) or
// cycled (SIGTERM); then another worker process must finish the backup, and nothing may be left behind:
// no second object, no open multipart upload once the janitor has run, no pg_dump.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives', { part_size: '5MiB' });
const { app, sim, secrets } = await startStack({ worker: false, env: { STORAGE_URL: storageUrl, ...s3.env } });
const db = app.runtime.pool;
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());
const server = await startSourceServer();
after(() => server.stop());
await seedSourceDatabase(server, 'shop');
await addBigTable(server, 'shop', 300_000);
const proxy = await startThrottlingProxy(server.cluster.port, 4_000_000);
after(() => proxy.close());
const slowSource = proxy.url(server.url('shop'));

function spawnWorker() {
  // A temporary folder of its own: a worker killed with SIGKILL cannot remove its password file's folder
  // (a lost dyno's disk goes with it), so the test removes it once the process is gone.
  const tmpDir = mkdtempSync(path.join(os.tmpdir(), 'bb-worker-'));
  const env: Record<string, string> = {
    ...runMark(),
    TMPDIR: tmpDir,
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/root',
    NODE_ENV: 'test',
    ...secrets,
    ...s3.env,
    DATABASE_URL: app.config.DATABASE_URL,
    PUBLIC_URL: app.config.PUBLIC_URL,
    STORAGE_URL: storageUrl,
    HEROKU_API_URL: sim.url,
    HEROKU_OAUTH_URL: sim.url,
    LOG_LEVEL: 'info',
    ALLOW_PRIVATE_DATABASE_HOSTS: 'true',
  };
  const child = spawn(process.execPath, ['src/bin/worker.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => {
    output += c.toString();
  });
  child.stderr.on('data', (c: Buffer) => {
    output += c.toString();
  });
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(tmpDir, { recursive: true, force: true });
  });
  return { child, exited, output: () => output };
}

async function startedWorker() {
  const worker = spawnWorker();
  await eventually(async () => /worker started/.test(worker.output()) || undefined, {
    timeoutMs: 30_000,
    what: `the worker to start; it printed:\n${worker.output()}`,
  });
  // A starting worker sets the queue's options; then, through pg-boss's own updateQueue (jobs sent from
  // now on carry them): heartbeats every 10 s (its smallest) and retries after 1 s, so a lost worker is
  // noticed in seconds rather than minutes.
  await app.boss.updateQueue('backup', { heartbeatSeconds: 10, retryDelay: 1, retryBackoff: false });
  return worker;
}

interface ProcessEntry {
  pid: number;
  ppid: number;
  comm: string;
  state: string;
  startTime: string;
}

/** Every process on the machine, read from /proc/<pid>/stat. */
function processes(): ProcessEntry[] {
  const found: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      continue; // exited while we looked
    }
    // pid (comm) state ppid ... starttime is field 22; comm may hold spaces, so split after its ')'.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    found.push({
      pid: Number(name),
      comm: stat.slice(stat.indexOf('(') + 1, close),
      state: fields[0]!,
      ppid: Number(fields[1]),
      startTime: fields[19]!,
    });
  }
  return found;
}

/** The pg_dump processes `workerPid` started, by pid and start time (a reused pid is another process). */
function pgDumpsOf(workerPid: number): ProcessEntry[] {
  return processes().filter((p) => p.ppid === workerPid && p.comm === 'pg_dump');
}

/** Waits until none of `dumps` is alive any more (gone, or a zombie: it has exited, only unreaped). */
async function assertGone(dumps: ProcessEntry[], what: string): Promise<void> {
  const alive = () =>
    processes().filter((p) => p.state !== 'Z' && dumps.some((d) => d.pid === p.pid && d.startTime === p.startTime));
  await eventually(async () => alive().length === 0, { timeoutMs: 20_000, what }).catch(() => {
    assert.fail(`${what}: still running ${JSON.stringify(alive())}`);
  });
}

async function slowAddon(): Promise<string> {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, uuid, slowSource, 'admin@example.com');
  return uuid;
}

/** Waits until at least `parts` parts of attempt `attempt`'s object were stored by the S3 server. */
async function partsStored(backupId: string, attempt: number, parts: number): Promise<void> {
  await eventually(
    async () =>
      s3.requests.filter(
        (r) => r.operation === 'UploadPart' && r.status === 200 && r.key.includes(`/${backupId}/attempt-${attempt}.`),
      ).length >= parts,
    { timeoutMs: 60_000, intervalMs: 50, what: `${parts} parts of attempt ${attempt} stored` },
  );
}

const settled = (id: string, timeoutMs = 120_000) =>
  eventually(
    async () => {
      const b = await findBackup(db, id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs, what: 'the backup to settle' },
  ).catch(async (error: unknown) => {
    const b = await findBackup(db, id);
    const jobs = await db.query(
      `select state, retry_count from pgboss.job where name = 'backup' and data->>'backupId' = $1`,
      [id],
    );
    throw new Error(`${(error as Error).message}: ${JSON.stringify({ backup: b, jobs: jobs.rows })}`);
  });

/** The retry reads the source directly: only the killed attempt needs to be slow. */
const fullSpeed = (resourceId: string) =>
  setDirectSource(db, app.runtime.secrets, resourceId, server.url('shop'), 'admin@example.com');

/** Exactly one object under the resource's prefix: the completed backup's, sealed, holding its digest. */
async function assertOneVerifiedObject(resourceId: string, objectKey: string, sha256: string): Promise<void> {
  const objects = await store.list(`tenants/${resourceId}/`);
  assert.deepEqual(
    objects.map((o) => ({ key: o.key, sealed: o.sealed })),
    [{ key: objectKey, sealed: true }],
    'one object, sealed by its manifest',
  );
  assert.equal((await store.head(objectKey))?.manifest?.sha256, sha256);
  const hash = createHash('sha256');
  for await (const chunk of await store.read(objectKey)) hash.update(chunk as Buffer);
  assert.equal(hash.digest('hex'), sha256, 'the stored bytes are the bytes that were verified');
}

function janitorDeps(): JobDeps {
  return {
    pool: db,
    boss: app.boss,
    logger: app.runtime.logger,
    secrets: app.runtime.secrets,
    store,
    partner: app.runtime.partner,
    backup: { stallTimeoutMs: 60_000 },
    hosts: { allowPrivate: true },
  };
}

test('SIGKILL with parts in flight: another worker completes one verified object, the janitor aborts the orphaned upload, pg_dump is gone', async () => {
  const resourceId = await slowAddon();
  const doomed = await startedWorker();
  const requested = (await requestBackup({ pool: db, boss: app.boss }, resourceId, {
    trigger: 'manual',
    requestedBy: 'admin@example.com',
  }))!;
  await partsStored(requested.id, 1, 2);
  const dumps = pgDumpsOf(doomed.child.pid!);
  assert.equal(dumps.length, 1, 'the worker runs one pg_dump');

  doomed.child.kill('SIGKILL');
  const [, signal] = await doomed.exited;
  assert.equal(signal, 'SIGKILL');
  await assertGone(dumps, 'the killed worker’s pg_dump to end');
  await fullSpeed(resourceId);

  // The killed attempt's multipart upload is still open: nobody lived to abort it.
  const orphans = await store.listIncompleteUploads(`tenants/${resourceId}/`);
  assert.deepEqual(
    orphans.map((u) => u.key),
    [`tenants/${resourceId}/${requested.id}/attempt-1.dump`],
  );

  // Another worker takes over once pg-boss notices the missing heartbeat; a supervisor that supervises
  // and monitors (where heartbeats are checked) every second stands in for a minute of wall time.
  const supervisor = new PgBoss({
    connectionString: app.config.DATABASE_URL,
    schema: BOSS_SCHEMA,
    migrate: false,
    supervise: true,
    schedule: false,
    superviseIntervalSeconds: 1,
    monitorIntervalSeconds: 1,
  });
  supervisor.on('error', () => {});
  await supervisor.start();
  after(() => supervisor.stop({ graceful: false, close: true }));
  const successor = await startedWorker();

  const done = await settled(requested.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.attempt, 2, 'the retry ran as a new attempt');
  assert.ok(done.verifiedAt, 'verified');
  assert.equal(done.objectKey, `tenants/${resourceId}/${requested.id}/attempt-2.dump`);
  // The event is written just after the row (not in its transaction): wait for it, then count.
  const completions = async () => (await listEvents(db, requested.id)).filter((e) => e.state === 'completed');
  await eventually(async () => (await completions()).length > 0, { what: 'the completion event' });
  assert.equal((await completions()).length, 1, 'exactly one completion');
  await assertOneVerifiedObject(resourceId, done.objectKey, done.sha256!);
  successor.child.kill('SIGTERM');
  await successor.exited;

  // The janitor leaves an upload younger than any attempt can live alone...
  const early = await backupJanitor(janitorDeps(), {});
  assert.deepEqual(early.abortedUploads, []);
  assert.equal((await store.listIncompleteUploads(`tenants/${resourceId}/`)).length, 1);
  // ...and aborts it once its clock is past that age, keeping the completed backup's archive.
  const later = new Date(Date.now() + MAX_ATTEMPT_AGE_MS + 60_000);
  const report = await backupJanitor(janitorDeps(), {}, undefined, later);
  assert.deepEqual(report.abortedUploads, [`tenants/${resourceId}/${requested.id}/attempt-1.dump`]);
  assert.deepEqual(report.removedObjects, []);
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), [], 'no open multipart upload');
  assert.ok(
    s3.requests.some((r) => r.operation === 'AbortMultipartUpload' && r.key.endsWith('attempt-1.dump')),
    'aborted at the S3 server',
  );
  await assertOneVerifiedObject(resourceId, done.objectKey, done.sha256!);
});

test('SIGTERM with parts in flight: the attempt ends as interrupted, pg_dump is gone, and another worker process completes it', async () => {
  const resourceId = await slowAddon();
  const cycled = await startedWorker();
  const requested = (await requestBackup({ pool: db, boss: app.boss }, resourceId, {
    trigger: 'manual',
    requestedBy: 'admin@example.com',
  }))!;
  await partsStored(requested.id, 1, 2);
  const dumps = pgDumpsOf(cycled.child.pid!);
  assert.equal(dumps.length, 1, 'the worker runs one pg_dump');

  const signalled = Date.now();
  cycled.child.kill('SIGTERM');
  const [code] = await cycled.exited;
  const took = Date.now() - signalled;
  assert.equal(code, 0, `a clean exit; it printed:\n${cycled.output()}`);
  assert.ok(took < 30_000, `exited ${took} ms after SIGTERM, inside the dyno's 30 s`);
  await assertGone(dumps, 'pg_dump to end with its worker');
  await fullSpeed(resourceId);

  const interrupted = (await findBackup(db, requested.id))!;
  assert.equal(interrupted.failureKind, 'interrupted', `${interrupted.state}: ${interrupted.failureReason}`);
  assert.notEqual(interrupted.state, 'failed', 'not final: a retry will run it again');
  const job = await db.query(`select state from pgboss.job where name = 'backup' and data->>'backupId' = $1`, [
    requested.id,
  ]);
  assert.equal(job.rows[0]?.state, 'retry', 'released to pg-boss for a retry');
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), [], 'its upload was aborted');

  const successor = await startedWorker();
  const done = await settled(requested.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.attempt, 2, 'another worker process ran it as a new attempt');
  assert.ok(done.verifiedAt, 'verified');
  await assertOneVerifiedObject(resourceId, done.objectKey!, done.sha256!);
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), []);
  successor.child.kill('SIGTERM');
  await successor.exited;
});
