import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import pg from 'pg';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import {
  backupIn,
  CONNECT_CLIENT,
  connectClientEnv,
  connectedResource as connectedResourceOf,
  forceFailed,
  jobDeps,
  pendingBackupRow,
  signedInBrowser,
  signedInResource,
} from '../../support/factories.ts';
import {
  startSourceServer,
  seedSourceDatabase,
  fingerprintDatabase,
  restoreArchive,
} from '../../support/seed-source.ts';
import { cancelBackup, requestBackup } from '../../../src/backups/backups.service.ts';
import { QUEUES } from '../../../src/queue/queues.ts';
import { beginAttempt, insertBackup } from '../../../src/backups/backups.repo.ts';
import { randomUUID } from 'node:crypto';
import { findSourceSetting, setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findForkIntent, recordForkIntent, recordForkRequested } from '../../../src/forks/forks.repo.ts';
import { forkAttachmentName, openSourceSession } from '../../../src/forks/fork-lifecycle.ts';
import { forkJanitor } from '../../../src/jobs/fork-janitor.ts';
import { MAX_ATTEMPT_AGE_MS } from '../../../src/jobs/backup-janitor.ts';
import { connectDeps } from '../../../src/heroku/connect-authorization.ts';

// Backups of a Heroku database, end to end through the simulator: the customer connects their Heroku
// account in the dashboard, every run reads <ATTACHMENT>_URL afresh, forks the database onto a scratch
// app (a real copy on a real server), dumps the fork and destroys it on every exit path.
const server = await startSourceServer();
after(() => server.stop());
const stack = await startStack({
  // Access tokens that live 2 minutes: every use falls in the 5-minute refresh margin, so each run refreshes.
  sim: {
    oauthClients: [CONNECT_CLIENT],
    postgres: { adminUrl: server.url('postgres') },
    forkReadyAfterMs: 200,
    accessTokenTtlSeconds: 120,
  },
  env: {
    ...connectClientEnv,
    FORK_POLL_INTERVAL_SECONDS: '0.2',
    FORK_READY_TIMEOUT_SECONDS: '6',
  },
});
const { app, sim } = stack;
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
const archiveRoot = fileURLToPath(app.config.STORAGE_URL!);

let counter = 0;

/** A provisioned add-on on an app whose DATABASE_URL is a real seeded database, signed in and connected. */
async function connectedResource(options: { plan?: string; databaseUrl?: string } = {}) {
  const n = ++counter;
  const owner = `owner-${n}-${Date.now()}@example.com`;
  const databaseUrl = options.databaseUrl ?? (await seedSourceDatabase(server, `prod_${n}`));
  const connected = await connectedResourceOf(stack, {
    owner,
    databaseUrl,
    ...(options.plan ? { postgresPlan: options.plan } : {}),
  });
  return { ...connected, database: connected.database!, databaseUrl, n };
}

const settled = (id: string, timeoutMs = 60_000) => backupIn(db, id, { timeoutMs });

const forkRow = async (backupId: string) =>
  (
    await db.query(
      `select source_mode, fork_addon_id, fork_addon_name, fork_app_name, fork_plan, fork_state, fork_requested_at, fork_ready_at, fork_destroyed_at
   from backups where id = $1`,
      [backupId],
    )
  ).rows[0];

/** Starts a manual backup and waits until its fork is recorded (set forkNeverReady first to keep it standing). */
async function backupHoldingFork(resourceId: string, requestedBy: string) {
  const requested = (await requestBackup(web, resourceId, { trigger: 'manual', requestedBy }))!;
  const withFork = await eventually(
    async () => {
      const row = await forkRow(requested.id);
      return row?.fork_addon_id ? row : undefined;
    },
    { what: 'the fork to be requested' },
  );
  return { requested, withFork };
}

/** The fork's add-on as Heroku (the simulator) has it. */
const simFork = (addonId: string) => sim.postgresAddons().find((a) => a.id === addonId);

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client(server.url('postgres'));
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** Waits for the fork's teardown (a separate job) and checks it is gone at Heroku and on the server. */
async function assertForkDestroyed(backupId: string) {
  const row = await eventually(
    async () => {
      const r = await forkRow(backupId);
      return r?.fork_destroyed_at ? r : undefined;
    },
    { timeoutMs: 20_000, what: 'the fork teardown' },
  );
  const fork = simFork(row.fork_addon_id);
  assert.equal(fork?.state, 'deprovisioned', 'Heroku no longer has the fork');
  assert.equal(await databaseExists(fork.databaseName), false, 'the fork database was dropped');
  return row;
}

function appSnapshot(appName: string) {
  const simApp = sim.app(appName)!;
  return { releases: sim.releases(appName), configVars: { ...simApp.configVars } };
}

test('a scheduled backup forks the database on a scratch app, dumps the fork while production keeps writing, and destroys it', async () => {
  const r = await connectedResource();
  const settings = await r.browser.request('GET', '/settings/heroku');
  const page = await settings.text();
  assert.match(page, /connected/);
  assert.match(page, new RegExp(`${r.appName}::DATABASE_URL`));
  const connection = (
    await db.query(
      'select scratch_app_name, heroku_email, connected_by, access_token_ciphertext from heroku_connections where resource_id = $1',
      [r.uuid],
    )
  ).rows[0];
  assert.ok(connection.scratch_app_name && connection.scratch_app_name !== r.appName, 'forks go on a scratch app');
  assert.equal(connection.heroku_email, r.owner);
  assert.ok(!connection.access_token_ciphertext.includes('HRKU-'), 'the token is stored sealed');

  // Production keeps receiving writes during the whole backup: a counter table grows without gaps.
  await server.run(`prod_${r.n}`, 'create table public.ticks (id bigint primary key, at timestamptz default now())');
  const writer = new pg.Client(r.databaseUrl);
  await writer.connect();
  let written = 0;
  let writing = true;
  const writes = (async () => {
    while (writing) await writer.query('insert into public.ticks (id) values ($1)', [++written]);
  })();
  const before = appSnapshot(r.appName);

  const requested = await requestBackup(web, r.uuid, {
    trigger: 'scheduled',
    requestedBy: 'schedule',
    slotKey: `${r.uuid}:test-slot`,
  });
  assert.equal(requested!.name, 'a001');
  const done = await settled(requested!.id);
  const writtenAtEnd = written;
  writing = false;
  await writes;
  await writer.end();
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.ok(done.verifiedAt);

  const row = await assertForkDestroyed(done.id);
  assert.equal(row.source_mode, 'fork');
  assert.ok(
    sim.log.tokenRequests({ grantType: 'refresh_token' }).length > 0,
    'the connected grant was refreshed before use',
  );
  const refreshed = (
    await db.query('select refreshed_at, status from heroku_connections where resource_id = $1', [r.uuid])
  ).rows[0];
  assert.ok(refreshed.refreshed_at, 'the refresh is recorded');
  assert.equal(refreshed.status, 'connected');
  assert.ok(
    !sim.log.apiRequests().some((q) => q.auth.tokenState === 'expired'),
    'no call was made with an expired token',
  );
  assert.equal(row.fork_app_name, connection.scratch_app_name);
  assert.equal(row.fork_plan, 'standard-0');
  assert.match(row.fork_addon_name, /./);
  assert.ok(row.fork_ready_at >= row.fork_requested_at);
  const fork = simFork(row.fork_addon_id)!;
  assert.equal(fork.forkOf, r.database.id, 'a fork of the production database');
  assert.equal(fork.appName, connection.scratch_app_name);
  assert.deepEqual(appSnapshot(r.appName), before, 'the production app got no config var and no release');

  // The archive restores to the fork's snapshot: every table as seeded, and a gap-free prefix of the
  // ticks that production kept writing after the fork was taken.
  const archive = await readFile(path.join(archiveRoot, done.objectKey!));
  const restoredUrl = await restoreArchive(server, `restored_${r.n}`, archive);
  const restored = await fingerprintDatabase(restoredUrl);
  const source = await fingerprintDatabase(r.databaseUrl);
  for (const [key, value] of Object.entries(source)) {
    if (key === 'table public.ticks' || key.startsWith('table heroku_ext.')) continue;
    assert.equal(restored[key], value, key);
  }
  const client = new pg.Client(restoredUrl);
  await client.connect();
  const ticks = (
    await client.query<{ n: number; max: number | null }>(
      'select count(*)::int as n, max(id)::int as max from public.ticks',
    )
  ).rows[0]!;
  await client.end();
  assert.equal(ticks.n, ticks.max ?? 0, 'the fork is a consistent snapshot: no gaps');
  assert.ok(
    ticks.n < writtenAtEnd,
    `production wrote on after the fork was taken (${ticks.n} in the fork, ${writtenAtEnd} written)`,
  );

  const dashboard = await (await r.browser.request('GET', '/dashboard')).text();
  assert.match(dashboard, /a001/);
  assert.match(dashboard, /completed and verified/);
  assert.match(dashboard, /standard-0, ready in \d+ s, lived \d+ s/);
  assert.match(dashboard, new RegExp(`connected</span> as ${r.owner}`));

  const log = await backupLog(done.id);
  assert.match(log, /resolved .*DATABASE_URL from the app's config vars/);
  assert.match(log, /fork .* ready after/);
  assert.ok(!log.includes(server.password), 'no password in the log');
  assert.ok(!app.logs.text().includes(server.password), 'no password in our logs');
});

test('reads the database URL afresh on every run: a rotated password does not break the next backup', async () => {
  // An Essential-tier database cannot be forked; the admin allows dumping it directly, so this run uses
  // the URL from the config vars itself.
  const n = counter + 1;
  const base = await seedSourceDatabase(server, `prod_${n}`);
  await server.run('postgres', `create role app_${n} login superuser password 'first-password'`);
  const withPassword = (password: string) => {
    const u = new URL(base);
    u.username = `app_${n}`;
    u.password = password;
    return u.toString();
  };
  const r = await connectedResource({ plan: 'essential-0', databaseUrl: withPassword('first-password') });
  assert.equal(n, r.n);

  const refused = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const first = await settled(refused!.id);
  assert.equal(first.state, 'failed');
  assert.equal(first.failureKind, 'not_forkable');
  assert.match(first.failureReason!, /Essential-tier databases cannot be forked.*not allowed/);
  assert.equal(first.attempt, 1, 'not retried');

  const saved = await r.browser.submit('/settings/heroku', { allow_direct_fallback: '1' });
  assert.equal(saved.status, 303);
  const one = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const ran = await settled(one!.id);
  assert.equal(ran.state, 'completed', `${ran.failureKind}: ${ran.failureReason}`);
  assert.equal((await forkRow(ran.id)).source_mode, 'direct-fallback');

  await server.run('postgres', `alter role app_${n} password 'second-password'`);
  sim.rotatePostgresCredentials(r.database.id, withPassword('second-password'));
  const two = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const again = await settled(two!.id);
  assert.equal(again.state, 'completed', `${again.failureKind}: ${again.failureReason}`);
  assert.equal(again.attempt, 1);
});

/** Runs one backup while forks are under `fault` and checks it ends as a fork timeout, not retried, with its fork destroyed. */
async function backupWithForkFault(fault: () => void) {
  const r = await connectedResource();
  fault();
  try {
    const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
    const done = await settled(requested!.id);
    assert.equal(done.state, 'failed');
    assert.equal(
      done.failureKind,
      'fork_timeout',
      JSON.stringify({
        state: done.state,
        attempt: done.attempt,
        fork: done.fork,
        mode: done.sourceMode,
        reason: done.failureReason,
        sim: sim.postgresAddons().slice(-3),
      }),
    );
    assert.equal(done.attempt, 1, 'a deadline is not retried');
    await assertForkDestroyed(done.id);
    return done;
  } finally {
    sim.faults.reset();
  }
}

/**
 * The wait lasts the whole limit and the reason says how long it really took: at least the limit, and
 * more only by the last probe's overrun (a few seconds at most, on a loaded machine).
 */
function assertWaitedTheLimit(reason: string): void {
  const waited = Number(/not ready after (\d+) seconds/.exec(reason)?.[1]);
  assert.ok(waited >= 6 && waited <= 16, `waited ${waited} seconds for a 6-second limit`);
}

test('a fork that never becomes ready fails the backup with a clear reason, and the fork is destroyed', async () => {
  const done = await backupWithForkFault(() => sim.faults.forkNeverReady());
  assert.match(
    done.failureReason!,
    /the fork was not ready after \d+ seconds \(limit 6 seconds; last seen: Heroku has not finished provisioning it\)/,
  );
  assertWaitedTheLimit(done.failureReason!);
});

test('a fork the worker cannot reach fails the backup naming the connection error, and the fork is destroyed', async () => {
  const done = await backupWithForkFault(() => sim.faults.forkUnreachable());
  assert.match(
    done.failureReason!,
    /not ready after \d+ seconds \(limit 6 seconds; last seen: connecting to it failed: .*ECONNREFUSED/,
  );
  assertWaitedTheLimit(done.failureReason!);
  const log = await backupLog(done.id);
  assert.match(log, /not ready yet: Heroku has not finished provisioning it/);
  assert.match(log, /not ready yet: connecting to it failed: .*ECONNREFUSED/);
  assert.equal(
    log.match(/not ready yet: connecting to it failed/g)?.length,
    1,
    'the same reason is logged once, not at every poll',
  );
});

test('the fork wait lasts until its limit, not one poll interval less, and says how long it waited', async () => {
  const r = await connectedResource();
  const backup = (await insertBackup(db, {
    id: randomUUID(),
    resourceId: r.uuid,
    trigger: 'manual',
    format: 'default',
    requestedBy: r.owner,
  }))!;
  const attempt = (await beginAttempt(db, backup.id))!;
  sim.faults.forkNeverReady();
  // Polls back off by half each time: 0, 1, 2.5, 4.75 s… With a 4-second limit, the poll after 2.5 s
  // would land past the deadline; the wait must still last the full 4 seconds and poll at the deadline.
  const limitMs = 4000;
  let requestedAt = 0;
  const session = openSourceSession(
    {
      pool: db,
      boss: app.boss,
      secrets: app.runtime.secrets,
      connect: connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config),
      forks: { readyTimeoutMs: limitMs, pollIntervalMs: 1000 },
    },
    {
      backup: attempt.backup,
      token: attempt.token,
      signal: new AbortController().signal,
      // The wait starts when the fork is requested, which the attempt logs at once.
      log: (line) => {
        if (/requested on the app .*waiting for it to be ready/.test(line)) requestedAt = Date.now();
      },
    },
  );
  try {
    const error = await session.open().then(
      () => assert.fail('the fork never becomes ready'),
      (e: unknown) => e as Error,
    );
    const waitedMs = Date.now() - requestedAt;
    assert.ok(requestedAt > 0, 'the fork was requested');
    // The test sees the request a few milliseconds after the attempt starts its clock.
    assert.ok(waitedMs >= limitMs - 100, `gave up after ${waitedMs} ms, before the ${limitMs} ms limit`);
    assert.ok(waitedMs < limitMs + 1500, `gave up ${waitedMs - limitMs} ms after the limit`);
    const said = /the fork was not ready after (\d+) seconds/.exec(error.message);
    assert.ok(said, error.message);
    assert.equal(Number(said[1]), Math.round(waitedMs / 1000), `says how long it waited: ${error.message}`);
    assert.match(error.message, /limit 4 seconds/);
  } finally {
    sim.faults.reset();
    await session.close();
  }
  await assertForkDestroyed(backup.id);
});

test('a fork deprovisioned while we wait fails the attempt, and each attempt cleans up its own fork', async () => {
  const r = await connectedResource();
  // A lost fork is worth another attempt; retry at once rather than after the product's minute.
  await app.boss.updateQueue('backup', { retryDelay: 1, retryBackoff: false });
  after(() => app.boss.updateQueue('backup', { retryDelay: QUEUES.backup.options.retryDelay, retryBackoff: true }));
  sim.faults.deprovisionForksWhileWaiting();
  let backupId: string;
  try {
    const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
    backupId = requested!.id;
    await eventually(
      async () =>
        (
          await db.query(
            `select 1 from backup_logs where backup_id = $1 and message like '%deprovisioned before it became ready%'`,
            [backupId],
          )
        ).rowCount,
      { timeoutMs: 20_000, what: 'the lost fork to be noticed' },
    );
  } finally {
    sim.faults.reset();
  }
  // The retry (a fresh fork, no fault now) succeeds.
  const done = await settled(backupId, 90_000);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.ok(done.attempt >= 2);
  await assertForkDestroyed(done.id);
  const live = sim.postgresAddons().filter((a) => a.forkOf === r.database.id && a.state !== 'deprovisioned');
  assert.deepEqual(live, [], 'no fork of this database is left');
});

test('a fork whose create reply was lost is found by its attachment name and destroyed; the retry completes', async () => {
  const r = await connectedResource();
  await app.boss.updateQueue('backup', { retryDelay: 1, retryBackoff: false });
  after(() => app.boss.updateQueue('backup', { retryDelay: QUEUES.backup.options.retryDelay, retryBackoff: true }));
  sim.faults.loseNextForkReply();
  const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const done = await settled(requested!.id, 90_000);
  sim.faults.reset();
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.attempt, 2);
  await eventually(
    async () =>
      sim.postgresAddons().filter((a) => a.forkOf === r.database.id && a.state !== 'deprovisioned').length === 0 ||
      undefined,
    { timeoutMs: 30_000, what: 'every fork of this database, the lost one too, to be destroyed' },
  );
  const logged = await db.query(
    `select message from backup_logs where backup_id = $1 and message like '%Heroku made the fork%'`,
    [done.id],
  );
  assert.equal(logged.rowCount, 1, 'the lost fork was found');
});

test('waits out Heroku rate limits (429 with Retry-After) instead of failing the backup', async () => {
  const r = await connectedResource();
  sim.faults.rateLimitNext(2, 1);
  const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const done = await settled(requested!.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.attempt, 1, 'waited, not retried as a failure');
  assert.ok(sim.log.apiRequests().filter((q) => q.status === 429).length >= 2, 'Heroku did answer 429');
  await assertForkDestroyed(done.id);
});

test('a revoked grant puts the resource in "reconnect needed", fails the backup once with that reason, and is not retried', async () => {
  const r = await connectedResource();
  assert.ok(sim.faults.revokeUserAuthorizations(r.owner) >= 1);
  const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const done = await settled(requested!.id);
  assert.equal(done.state, 'failed');
  assert.equal(done.failureKind, 'reconnect_needed');
  assert.match(done.failureReason!, /reconnect/i);
  assert.equal(done.attempt, 1, 'no retry storm');
  const connection = (
    await db.query('select status, last_error from heroku_connections where resource_id = $1', [r.uuid])
  ).rows[0];
  assert.equal(connection.status, 'reconnect_needed');
  const page = await (await r.browser.request('GET', '/settings/heroku')).text();
  assert.match(page, /reconnect needed/);
  assert.match(page, /Reconnect Heroku/);
  // The next run fails at once too, without asking Heroku again.
  const calls = sim.log.requests.length;
  const next = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  assert.equal((await settled(next!.id)).failureKind, 'reconnect_needed');
  assert.equal(sim.log.requests.length, calls, 'no call to Heroku with a grant known to be dead');
  assert.match(
    await (await r.browser.request('GET', '/dashboard')).text(),
    /Backups of the Heroku database fail until someone reconnects Heroku/,
  );

  // An admin can disconnect: the grant is forgotten, and the page offers to connect again.
  assert.equal((await r.browser.submit('/connect/heroku/disconnect')).status, 303);
  assert.equal((await db.query('select 1 from heroku_connections where resource_id = $1', [r.uuid])).rowCount, 0);
  assert.match(await (await r.browser.request('GET', '/settings/heroku')).text(), /not connected[\s\S]*Connect Heroku/);
});

test('deprovisioning during a backup cancels it and destroys its fork', async () => {
  const r = await connectedResource();
  sim.faults.forkNeverReady();
  try {
    const { withFork } = await backupHoldingFork(r.uuid, r.owner);
    assert.equal((await sim.deprovision(r.uuid)).result, 'deprovisioned');
    // The purge removes the backup rows once the attempt has stopped; the fork must be gone at Heroku.
    await eventually(async () => simFork(withFork.fork_addon_id)?.state === 'deprovisioned', {
      timeoutMs: 30_000,
      what: 'the fork to be destroyed',
    });
    assert.equal(await databaseExists(simFork(withFork.fork_addon_id)!.databaseName), false);
    const events = await eventually(
      async () =>
        (await db.query(`select 1 from audit_events where resource_id = $1`, [r.uuid])).rowCount === 0 || undefined,
      { timeoutMs: 30_000, what: 'the purge' },
    );
    assert.ok(events);
  } finally {
    sim.faults.reset();
  }
});

test('the fork janitor destroys a fork that outlived any attempt (a worker died holding it)', async () => {
  const r = await connectedResource();
  sim.faults.forkNeverReady();
  try {
    const { requested, withFork } = await backupHoldingFork(r.uuid, r.owner);
    const deps = jobDeps(app, { connect: connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config) });
    // Now, nothing is old enough to reap; past the longest an attempt may live, this fork is.
    assert.deepEqual((await forkJanitor(deps, {})).destroyed, []);
    const report = await forkJanitor(deps, {}, undefined, new Date(Date.now() + MAX_ATTEMPT_AGE_MS + 60_000));
    assert.deepEqual(report.destroyed, [withFork.fork_addon_id]);
    assert.equal(simFork(withFork.fork_addon_id)?.state, 'deprovisioned');
    assert.ok((await forkRow(requested.id)).fork_destroyed_at);
    await cancelBackup(web, r.uuid, requested.id, r.owner);
    assert.equal((await settled(requested.id, 30_000)).state, 'canceled');
  } finally {
    sim.faults.reset();
  }
});

/** The backup's next attempt opens its source; its own new fork never becomes ready, so nothing else happens meanwhile. Returns its log. */
async function nextAttemptOpens(backupId: string): Promise<string[]> {
  const attempt = (await beginAttempt(db, backupId))!;
  sim.faults.forkNeverReady();
  const lines: string[] = [];
  const session = openSourceSession(
    {
      pool: db,
      boss: app.boss,
      secrets: app.runtime.secrets,
      connect: connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config),
      forks: { readyTimeoutMs: 1500, pollIntervalMs: 100 },
      hosts: { allowPrivate: true },
    },
    {
      backup: attempt.backup,
      token: attempt.token,
      signal: new AbortController().signal,
      log: (line) => lines.push(line),
    },
  );
  try {
    await assert.rejects(session.open(), /not ready after/);
  } finally {
    sim.faults.reset();
    await session.close();
  }
  return lines;
}

test('an attempt first destroys the fork a dead earlier attempt left on the backup, before it records a new one', async () => {
  const r = await connectedResource();
  const connection = (
    await db.query('select scratch_app_name from heroku_connections where resource_id = $1', [r.uuid])
  ).rows[0];
  // Attempt 1 died holding fork A: made here through the API with the owner's token, recorded as the attempt would.
  const backup = await pendingBackupRow(db, r.uuid, r.owner);
  const first = (await beginAttempt(db, backup.id))!;
  const token = sim.issueUserToken({ user: r.owner, scopes: ['write-protected'] }).access_token;
  const created = await fetch(new URL(`/apps/${connection.scratch_app_name}/addons`, sim.url), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.heroku+json; version=3',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      plan: 'heroku-postgresql:standard-0',
      config: { fork: `${r.appName}::DATABASE_URL` },
      attachment: { name: 'BIGBACKUP_FORK_DEAD' },
    }),
  });
  assert.equal(created.status, 201);
  const forkA = (await created.json()) as { id: string; name: string };
  assert.ok(
    await recordForkRequested(db, backup.id, first.token, {
      addonId: forkA.id,
      addonName: forkA.name,
      appName: connection.scratch_app_name,
      plan: 'standard-0',
    }),
  );

  const lines = await nextAttemptOpens(backup.id);
  assert.equal(simFork(forkA.id)?.state, 'deprovisioned', 'fork A is gone at Heroku');
  assert.ok(
    lines.some((l) => l.includes(`the fork ${forkA.name} of an earlier attempt was destroyed`)),
    lines.join('\n'),
  );
  const row = await forkRow(backup.id);
  assert.notEqual(row.fork_addon_id, forkA.id, 'the row now names the new fork');
  // The new fork goes through the teardown job like any other.
  await assertForkDestroyed(backup.id);
});

/** Attempt 1 asks for a fork and dies before recording it: the fork exists at Heroku, the row holds only the intent. */
async function forkAskedForThenDied(r: Awaited<ReturnType<typeof connectedResource>>) {
  const connection = (
    await db.query('select scratch_app_name from heroku_connections where resource_id = $1', [r.uuid])
  ).rows[0];
  const backup = await pendingBackupRow(db, r.uuid, r.owner);
  const first = (await beginAttempt(db, backup.id))!;
  const attachmentName = forkAttachmentName(first.backup);
  assert.ok(
    await recordForkIntent(db, backup.id, first.token, { appName: connection.scratch_app_name, attachmentName }),
  );
  const token = sim.issueUserToken({ user: r.owner, scopes: ['write-protected'] }).access_token;
  const created = await fetch(new URL(`/apps/${connection.scratch_app_name}/addons`, sim.url), {
    method: 'POST',
    headers: {
      authorization: `Bearer ${token}`,
      accept: 'application/vnd.heroku+json; version=3',
      'content-type': 'application/json',
    },
    body: JSON.stringify({
      plan: 'heroku-postgresql:standard-0',
      config: { fork: `${r.appName}::DATABASE_URL` },
      attachment: { name: attachmentName },
    }),
  });
  assert.equal(created.status, 201);
  return { backup, fork: (await created.json()) as { id: string; name: string }, attachmentName };
}

test('an attempt destroys the fork an earlier attempt asked for but died before recording', async () => {
  const r = await connectedResource();
  const { backup, fork, attachmentName } = await forkAskedForThenDied(r);
  const lines = await nextAttemptOpens(backup.id);
  assert.equal(simFork(fork.id)?.state, 'deprovisioned', 'the unrecorded fork is gone at Heroku');
  assert.ok(
    lines.some((l) => l.includes(`an unrecorded fork of an earlier attempt (${attachmentName}) was destroyed`)),
    lines.join('\n'),
  );
  await assertForkDestroyed(backup.id); // attempt 2's own fork, as usual
});

test('the fork janitor destroys a fork whose attempt died before recording it, once no attempt can be alive', async () => {
  const r = await connectedResource();
  const { backup, fork, attachmentName } = await forkAskedForThenDied(r);
  const deps = jobDeps(app, { connect: connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config) });
  assert.ok(
    !(await forkJanitor(deps, {})).destroyed.includes(attachmentName),
    'not while an attempt may still record it',
  );
  const report = await forkJanitor(deps, {}, undefined, new Date(Date.now() + MAX_ATTEMPT_AGE_MS + 60_000));
  assert.ok(report.destroyed.includes(attachmentName), JSON.stringify(report));
  assert.equal(simFork(fork.id)?.state, 'deprovisioned');
  assert.equal(await findForkIntent(db, backup.id), undefined, 'the intent is settled');
});

test('deprovisioning destroys a fork an attempt asked for but never recorded', async () => {
  const r = await connectedResource();
  const { backup, fork } = await forkAskedForThenDied(r);
  await forceFailed(db, backup.id, { kind: 'abandoned' });
  assert.equal((await sim.deprovision(r.uuid)).result, 'deprovisioned');
  await eventually(async () => simFork(fork.id)?.state === 'deprovisioned' || undefined, {
    timeoutMs: 30_000,
    what: 'the unrecorded fork to be destroyed by the purge',
  });
});

test('an admin chooses the database, the app forks go on and the fork plan, and cannot put forks on the production app', async () => {
  const r = await connectedResource();
  const refused = await r.browser.submit('/settings/heroku', { scratch_app: r.appName });
  assert.equal(refused.status, 422);
  assert.match(await refused.text(), /Forks must not go on the production app/);
  const unknown = await r.browser.submit('/settings/heroku', { attachment: 'NOT_A_DATABASE' });
  assert.equal(unknown.status, 422);
  assert.match(await unknown.text(), /NOT_A_DATABASE is not a Postgres attachment/);
  const mine = `forks-${r.n}-${Date.now().toString(36)}`.slice(0, 30);
  sim.createApp({ name: mine, owner: r.owner, collaborators: [] });
  const saved = await r.browser.submit('/settings/heroku', {
    scratch_app: mine,
    attachment: 'DATABASE',
    fork_plan: 'standard-2',
  });
  assert.equal(saved.status, 303);
  const row = (
    await db.query('select scratch_app_name, fork_plan from heroku_connections where resource_id = $1', [r.uuid])
  ).rows[0];
  assert.deepEqual(row, { scratch_app_name: mine, fork_plan: 'standard-2' });
  const page = await (await r.browser.request('GET', '/settings/heroku')).text();
  assert.match(page, new RegExp(`<option value="${mine}" selected>`));
  assert.match(page, /heroku-postgresql:standard-2/);
  const audit = await db.query(
    `select 1 from audit_events where resource_id = $1 and action = 'heroku.settings_changed'`,
    [r.uuid],
  );
  assert.equal(audit.rowCount, 1);
});

test('saving the Heroku settings form as rendered keeps a database URL source and the fork app', async () => {
  const r = await connectedResource();
  await setDirectSource(db, app.runtime.secrets, r.uuid, await seedSourceDatabase(server, `follower_${r.n}`), r.owner);
  const page = await (await r.browser.request('GET', '/settings/heroku')).text();
  // What a browser submits for a select: its selected option, else its first.
  const chosen = (name: string) => {
    const select = new RegExp(`<select name="${name}">([\\s\\S]*?)</select>`).exec(page)?.[1] ?? '';
    const all = [...select.matchAll(/<option value="([^"]*)"([^>]*)>/g)];
    return (all.find((m) => m[2]!.includes('selected')) ?? all[0])?.[1];
  };
  const before = (await db.query('select scratch_app_name from heroku_connections where resource_id = $1', [r.uuid]))
    .rows[0].scratch_app_name;
  const saved = await r.browser.submit('/settings/heroku', {
    attachment: chosen('attachment') ?? '',
    scratch_app: chosen('scratch_app') ?? '',
    fork_plan: 'standard-2',
    allow_direct_fallback: '0',
  });
  assert.equal(saved.status, 303, await saved.text());
  assert.equal((await findSourceSetting(db, r.uuid))?.kind, 'direct', 'the database URL is still the source');
  const after = (
    await db.query('select scratch_app_name, fork_plan from heroku_connections where resource_id = $1', [r.uuid])
  ).rows[0];
  assert.deepEqual(after, { scratch_app_name: before, fork_plan: 'standard-2' });
});

test('a Heroku settings change refused in one part writes none of it', async () => {
  const r = await connectedResource();
  await setDirectSource(db, app.runtime.secrets, r.uuid, await seedSourceDatabase(server, `kept_${r.n}`), r.owner);
  const refused = await r.browser.submit('/settings/heroku', {
    attachment: 'DATABASE',
    scratch_app: r.appName,
    fork_plan: 'standard-4',
  });
  assert.equal(refused.status, 422);
  assert.match(await refused.text(), /Forks must not go on the production app/);
  assert.equal((await findSourceSetting(db, r.uuid))?.kind, 'direct', 'the database choice was not saved either');
  assert.notEqual(
    (await db.query('select fork_plan from heroku_connections where resource_id = $1', [r.uuid])).rows[0].fork_plan,
    'standard-4',
  );
});

test('an admin must connect before a Heroku database can be backed up, and members cannot connect', async () => {
  const { uuid, browser: admin } = await signedInResource(stack);
  const member = await signedInBrowser(stack, uuid, `member-${uuid.slice(0, 6)}@example.com`);
  assert.equal((await member.request('GET', '/connect/heroku')).status, 403);
  assert.match(await (await admin.request('GET', '/settings/heroku')).text(), /not connected/);
  // A callback whose state was never issued to this session is refused.
  assert.equal((await admin.request('GET', '/connect/heroku/callback?code=x&state=forged')).status, 403);
  const requested = await requestBackup(web, uuid, { trigger: 'manual', requestedBy: 'x' });
  const done = await settled(requested!.id);
  assert.equal(done.failureKind, 'no_source');
  assert.match(done.failureReason!, /connect Heroku/);
});

async function backupLog(backupId: string): Promise<string> {
  return (
    await db.query<{ message: string }>('select message from backup_logs where backup_id = $1 order by id', [backupId])
  ).rows
    .map((l) => l.message)
    .join('\n');
}
