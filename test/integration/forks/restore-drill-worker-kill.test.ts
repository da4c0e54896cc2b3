import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { apiCall } from '../../support/stack.ts';
import { CONNECT_CLIENT, connectClientEnv, connectedResource, jobDeps } from '../../support/factories.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { latestDrill } from '../../../src/backups/drills.repo.ts';
import { forkJanitor } from '../../../src/jobs/fork-janitor.ts';
import { connectDeps } from '../../../src/heroku/connect-authorization.ts';

// A worker process (src/bin/worker.ts) is SIGKILLed in the middle of a restore drill, as when a dyno is
// lost: the drill is failed visibly, and neither its empty database nor the fork outlives the janitor.
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const server = await startSourceServer();
after(() => server.stop());
// The test hook holds the drill between the restore and the comparison, so the kill lands mid-drill.
const HOLD = 'select pg_sleep(120)';
const stack = await startStack({
  worker: false,
  sim: { oauthClients: [CONNECT_CLIENT], postgres: { adminUrl: server.url('postgres') }, forkReadyAfterMs: 200 },
  env: { ...connectClientEnv, FORK_POLL_INTERVAL_SECONDS: '0.2', FORK_READY_TIMEOUT_SECONDS: '20' },
});
const { app, sim, secrets } = stack;
const db = app.runtime.pool;

function spawnWorker() {
  const env: Record<string, string> = {
    PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
    HOME: process.env.HOME ?? '/root',
    NODE_ENV: 'test',
    ...secrets,
    ...connectClientEnv,
    DATABASE_URL: app.config.DATABASE_URL,
    PUBLIC_URL: app.config.PUBLIC_URL,
    STORAGE_URL: app.config.STORAGE_URL!,
    HEROKU_API_URL: sim.url,
    HEROKU_OAUTH_URL: sim.url,
    FORK_POLL_INTERVAL_SECONDS: '0.2',
    FORK_READY_TIMEOUT_SECONDS: '20',
    ALLOW_PRIVATE_DATABASE_HOSTS: 'true',
    DRILL_TEST_ALTER_SQL: HOLD,
    LOG_LEVEL: 'info',
  };
  const child = spawn(process.execPath, ['src/bin/worker.ts'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output += c.toString()));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return { child, exited, output: () => output };
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client(server.url('postgres'));
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

async function holding(): Promise<boolean> {
  const client = new pg.Client(server.url('postgres'));
  await client.connect();
  try {
    const found = await client.query(`select 1 from pg_stat_activity where query = $1 and state = 'active'`, [HOLD]);
    return found.rowCount === 1;
  } finally {
    await client.end();
  }
}

test('a worker SIGKILLed mid-drill: the drill is failed visibly, and no database or add-on outlives the janitor', async () => {
  const worker = spawnWorker();
  await eventually(async () => /worker started/.test(worker.output()) || undefined, {
    timeoutMs: 30_000,
    what: `the worker to start; it printed:\n${worker.output()}`,
  });
  const databaseUrl = await seedSourceDatabase(server, 'killed_prod');
  const r = await connectedResource(stack, { databaseUrl, owner: `kill-owner-${Date.now()}@example.com` });
  const set = await apiCall(app.url, 'PUT', '/drills', {
    browser: r.browser,
    csrf: await r.browser.csrfToken(),
    body: { policy: 'weekly', target_plan: 'standard-0' },
  });
  assert.equal(set.status, 200, await set.clone().text());
  const requested = (await requestBackup({ pool: db, boss: app.boss }, r.uuid, {
    trigger: 'manual',
    requestedBy: r.owner,
  }))!;
  await eventually(async () => (await holding()) || undefined, {
    timeoutMs: 90_000,
    what: `the drill to restore and reach the comparison; the worker printed:\n${worker.output().slice(-3000)}`,
  });
  const running = (await latestDrill(db, requested.id))!;
  assert.equal(running.state, 'running');
  const { target_addon_id: targetId } = (
    await db.query('select target_addon_id from restore_drills where id = $1', [running.id])
  ).rows[0] as { target_addon_id: string };
  const { fork_addon_id: forkId } = (await db.query('select fork_addon_id from backups where id = $1', [requested.id]))
    .rows[0] as { fork_addon_id: string };

  worker.child.kill('SIGKILL');
  await worker.exited;

  const deps = jobDeps(app, { connect: connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config) });
  // Within the heartbeat's grace the janitor cannot tell a dead drill from a busy one: it leaves both alone.
  assert.deepEqual((await forkJanitor(deps, {})).destroyed, []);
  assert.equal((await latestDrill(db, requested.id))!.state, 'running');
  // Once the drill has been silent for 5 minutes, it is failed and both databases are destroyed.
  const report = await forkJanitor(deps, {}, undefined, new Date(Date.now() + 6 * 60_000));
  assert.deepEqual(report.destroyed.sort(), [forkId, targetId].sort());
  assert.deepEqual(report.failed, []);
  const failed = (await latestDrill(db, requested.id))!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failureReason, 'the worker running this drill stopped before it finished');
  assert.ok((await listEvents(db, requested.id)).some((e) => e.state === 'drill.failed'));
  for (const addonId of [forkId, targetId]) {
    const addon = sim.postgresAddons().find((a) => a.id === addonId)!;
    assert.equal(addon.state, 'deprovisioned', `${addonId} is destroyed at Heroku`);
    assert.equal(await databaseExists(addon.databaseName), false, `${addon.databaseName} is dropped`);
  }
  assert.deepEqual((await forkJanitor(deps, {}, undefined, new Date(Date.now() + 6 * 60_000))).destroyed, []);
  const page = await (await r.browser.request('GET', `/backups/${requested.id}`)).text();
  assert.match(page, /The restore drill failed: the worker running this drill stopped before it finished/);
});
