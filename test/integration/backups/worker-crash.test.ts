import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { PgBoss } from 'pg-boss';
import { startStack } from '../../support/stack.ts';
import { runMark } from '../../support/leftover-guard.ts';
import { eventually } from '../../support/app.ts';
import { backupIn, seededSourceServer } from '../../support/factories.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { BOSS_SCHEMA } from '../../../src/queue/boss.ts';

// A worker process dies (SIGKILL, as when a dyno is lost) in the middle of a backup. Nothing in our code
// runs at that moment: pg-boss must notice the missing heartbeat, fail the job and retry it, and the
// retry must make a new attempt that completes. Queue timings are shortened for the test through
// pg-boss's own updateQueue, not by changing the product.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const { app, sim, secrets } = await startStack({ worker: false });
const db = app.runtime.pool;
const { server, sourceUrl } = await seededSourceServer('crashy');

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
    DATABASE_URL: app.config.DATABASE_URL,
    PUBLIC_URL: app.config.PUBLIC_URL,
    STORAGE_URL: app.config.STORAGE_URL!,
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
  const exited = once(child, 'exit');
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(tmpDir, { recursive: true, force: true });
  });
  return { child, output: () => output };
}

test('a worker killed mid-backup: pg-boss retries it, a new attempt completes, and only one backup completes', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');

  // Hold a lock pg_dump must wait for, so the first attempt is reliably in the middle of its dump.
  const blocker = new pg.Client(server.url('crashy'));
  await blocker.connect();
  after(() => blocker.end().catch(() => {}));
  await blocker.query('begin');
  await blocker.query('lock table public.customers in access exclusive mode');

  const doomed = spawnWorker();
  await eventually(async () => /worker started/.test(doomed.output()) || undefined, {
    timeoutMs: 30_000,
    what: 'the worker to start',
  });
  await app.boss.updateQueue('backup', { heartbeatSeconds: 10, retryDelay: 1, retryBackoff: false });

  const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, {
    trigger: 'manual',
    requestedBy: 'admin@example.com',
  });
  const running = await eventually(
    async () => {
      const b = await findBackup(db, requested!.id);
      return b?.state === 'running' && b.attempt === 1 ? b : undefined;
    },
    { timeoutMs: 30_000, what: 'the first attempt to run' },
  );
  const firstKey = running.objectKey;

  doomed.child.kill('SIGKILL');
  await once(doomed.child, 'exit');
  await blocker.query('rollback');

  // Another worker takes over; a supervisor that checks often stands in for a minute of wall time.
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
  await app.startWorker();

  const done = await backupIn(db, requested!.id, { timeoutMs: 90_000 });
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.attempt, 2, 'the retry ran as a new attempt');
  assert.notEqual(done.objectKey, firstKey, 'each attempt writes its own object');
  assert.ok(done.verifiedAt, 'verified');

  const events = await listEvents(db, requested!.id);
  assert.ok(
    events.some((e) => e.attempt === 1 && e.state === 'running'),
    'the killed attempt is on record',
  );
  assert.equal(events.filter((e) => e.state === 'completed').length, 1, 'exactly one completion');
  const completed = await db.query(
    `select count(*)::int as n from backups where resource_id = $1 and state = 'completed'`,
    [uuid],
  );
  assert.equal(completed.rows[0].n, 1);
});
