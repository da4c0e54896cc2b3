import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after } from 'node:test';
import type { ProvisionOutcome } from '../../dev/simulator/index.ts';
import { FINAL_STATES, type Backup, type BackupState } from '../../src/backups/backup.ts';
import { beginAttempt, findBackup, insertBackup } from '../../src/backups/backups.repo.ts';
import { recordShardPlan } from '../../src/backups/sharded-backups.repo.ts';
import { recordPieceDone, startPieceRun } from '../../src/backups/backup-pieces.repo.ts';
import type { ShardPlan } from '../../src/engine/index.ts';
import { requestBackup } from '../../src/backups/backups.service.ts';
import { setDirectSource } from '../../src/backups/sources.repo.ts';
import type { Queryable } from '../../src/db/pool.ts';
import { findResource } from '../../src/resources/resources.repo.ts';
import type { JobDeps } from '../../src/jobs/deps.ts';
import { eventually, type TestApp } from './app.ts';
import { LOOPBACK_ALLOWED, seedSourceDatabase, startSourceServer, type SourceServer } from './seed-source.ts';
import { Browser, type Stack } from './stack.ts';

// The states tests start from, built the way customers and Heroku reach them: the simulator provisions
// (Heroku's add-on manager calling our Partner API), our SSO signs in, the dashboard's "Connect Heroku"
// runs the OAuth flow, backups are requested through the service and run by the worker. Where a test needs
// a state no code path of ours produces on demand (a backup finished hours ago, a schedule set two days
// ago), the SQL that fakes it is here, named for the state, and nowhere else.

/**
 * A throwaway PostgreSQL server holding one seeded database (`database`) to back up, stopped when the
 * test file ends. Call it at the top level of a test file, as startStack.
 */
export async function seededSourceServer(database = 'shop'): Promise<{ server: SourceServer; sourceUrl: string }> {
  const server = await startSourceServer();
  after(() => server.stop());
  return { server, sourceUrl: await seedSourceDatabase(server, database) };
}

/** The parts of a started stack (startStack) the factories use. */
export type StackParts = Pick<Stack, 'app' | 'sim'>;

export interface ProvisionedResource {
  uuid: string;
  /** The Heroku app's name, learned by our grant exchange; undefined with `awaitApp: false`. */
  appName: string | undefined;
  addon: ProvisionOutcome['addon'];
  outcome: ProvisionOutcome;
}

/**
 * An add-on the simulator provisioned through our Partner API. `owner` makes that user the app's owner
 * (with no collaborators), as connecting Heroku needs. Unless `awaitApp` is false, waits until the
 * grant exchange (a worker job) has stored the grant's tokens and then taught us the app's name.
 */
export async function provisionedResource(
  stack: StackParts,
  options: { plan?: string; owner?: string; awaitApp?: boolean } = {},
): Promise<ProvisionedResource> {
  const outcome = await stack.sim.provision({
    plan: options.plan ?? 'standard',
    ...(options.owner ? { app: { owner: options.owner, collaborators: [] } } : {}),
  });
  if (outcome.result !== 'provisioned') assert.fail(failedProvision(stack, outcome));
  assert.deepEqual(outcome.violations, [], 'our Partner API answered as Heroku expects');
  const appName =
    options.awaitApp === false
      ? undefined
      : await eventually(async () => (await findResource(stack.app.runtime.pool, outcome.uuid))?.appName, {
          what: 'the app name',
        });
  return { uuid: outcome.uuid, appName, addon: outcome.addon, outcome };
}

/**
 * Why a provision did not succeed, as the simulator recorded it (our answer, or the error reaching us)
 * with the app's warnings and errors around it: a bare 'failed' says nothing about the cause.
 */
function failedProvision(stack: StackParts, outcome: ProvisionOutcome): string {
  const { call } = outcome;
  const answer =
    call.status === null
      ? `no answer (${call.error}: ${call.errorMessage})`
      : `${call.status} ${call.responseText.slice(0, 2000)}`;
  const logged = stack.app.logs.lines.filter((line) => line.includes(outcome.uuid) || /"level":[4-6]\d/.test(line));
  return [
    `the provision of ${outcome.uuid} ${outcome.result}: ${outcome.failure}`,
    `${call.method} ${call.url} after ${call.durationMs} ms: ${answer}`,
    ...outcome.violations.map((v) => `violation ${v.kind}: ${v.message}`),
    `the app's warnings and errors (last 20):`,
    ...logged.slice(-20),
  ].join('\n');
}

/** A browser signed in to the resource's dashboard through Heroku SSO (as `user`, or the simulator's default). */
export async function signedInBrowser(stack: StackParts, uuid: string, user?: string): Promise<Browser> {
  const browser = new Browser(stack.app.url);
  const response = await browser.signIn(stack.sim.ssoForm(uuid, user ? { user } : {}));
  assert.equal(response.status, 303);
  return browser;
}

/** Provision and sign in: a provisioned add-on (its app known) and a browser signed in to it, as its first user an admin. */
export async function signedInResource(
  stack: StackParts,
  options: { plan?: string; user?: string } = {},
): Promise<{ uuid: string; appName: string; browser: Browser }> {
  const { uuid, appName } = await provisionedResource(stack, options.plan ? { plan: options.plan } : {});
  return { uuid, appName: appName!, browser: await signedInBrowser(stack, uuid, options.user) };
}

/**
 * "Connect Heroku" from a signed-in dashboard, approved at the simulator as `user`: our authorize
 * redirect, Heroku's consent, our callback. Returns the callback's answer (a redirect to the settings).
 */
export async function connectHeroku(stack: StackParts, browser: Browser, user: string): Promise<Response> {
  const start = await browser.request('GET', '/connect/heroku');
  assert.equal(start.status, 303);
  const authorize = new URL(start.headers.get('location')!);
  assert.equal(authorize.origin, new URL(stack.sim.url).origin);
  assert.equal(authorize.searchParams.get('scope'), 'write-protected');
  authorize.searchParams.set('user', user); // the simulator's stand-in for who is logged in at Heroku
  const approved = await fetch(authorize, { redirect: 'manual' });
  assert.equal(approved.status, 302);
  const callback = new URL(approved.headers.get('location')!);
  const back = await browser.request('GET', callback.pathname + callback.search);
  assert.equal(back.status, 303, await back.clone().text());
  assert.equal(back.headers.get('location'), '/settings/heroku?notice=connected');
  return back;
}

/** The OAuth client "Connect Heroku" uses: register it with the simulator (`oauthClients`) and the app (`connectClientEnv`). */
export const CONNECT_CLIENT = { id: 'big-backup-connect', secret: 'connect-client-secret-for-tests-only' };
export const connectClientEnv = {
  HEROKU_CONNECT_CLIENT_ID: CONNECT_CLIENT.id,
  HEROKU_CONNECT_CLIENT_SECRET: CONNECT_CLIENT.secret,
};

let owners = 0;

/**
 * A provisioned add-on whose owner signed in and connected their Heroku account. With `databaseUrl`,
 * the app first gets a Heroku Postgres attachment (DATABASE) on that real database, which connecting
 * then picks as the backup source.
 */
export async function connectedResource(
  stack: StackParts,
  options: { databaseUrl?: string; postgresPlan?: string; owner?: string } = {},
) {
  const owner = options.owner ?? `owner-${++owners}-${Date.now()}@example.com`;
  const { uuid, outcome } = await provisionedResource(stack, { owner, awaitApp: false });
  const appName = stack.sim.app(outcome.addon.appId)!.name;
  const database =
    options.databaseUrl === undefined
      ? undefined
      : stack.sim.attachPostgres(appName, { url: options.databaseUrl, plan: options.postgresPlan ?? 'standard-0' });
  // The partner grant exchange teaches us the app; connecting uses it to pick DATABASE.
  await eventually(async () => (await findResource(stack.app.runtime.pool, uuid))?.appName, { what: 'the app name' });
  const browser = await signedInBrowser(stack, uuid, owner);
  await connectHeroku(stack, browser, owner);
  return { uuid, appName, owner, browser, database };
}

/** A provisioned add-on (app not awaited) whose backup source is the database at `sourceUrl`. */
export async function resourceWithDirectSource(
  stack: StackParts,
  sourceUrl: string,
  options: { plan?: string; setBy?: string } = {},
): Promise<string> {
  const { uuid } = await provisionedResource(stack, { plan: options.plan ?? 'standard', awaitApp: false });
  await setDirectSource(
    stack.app.runtime.pool,
    stack.app.runtime.secrets,
    uuid,
    sourceUrl,
    options.setBy ?? 'admin@example.com',
  );
  return uuid;
}

/** Waits until the backup is in one of `states` (by default: finished, whichever way). */
export function backupIn(
  pool: Queryable,
  id: string,
  options: { states?: readonly BackupState[]; timeoutMs?: number } = {},
): Promise<Backup> {
  const states = options.states ?? FINAL_STATES;
  return eventually(
    async () => {
      const backup = await findBackup(pool, id);
      return backup && states.includes(backup.state) ? backup : undefined;
    },
    { timeoutMs: options.timeoutMs ?? 60_000, what: `the backup to be ${states.join('/')}` },
  );
}

/** A manual backup requested through the service and run by the worker to `completed` (a real pg_dump). */
export async function completedBackup(stack: StackParts, uuid: string, requestedBy: string): Promise<Backup> {
  const pool = stack.app.runtime.pool;
  const requested = await requestBackup({ pool, boss: stack.app.boss }, uuid, { trigger: 'manual', requestedBy });
  const backup = await backupIn(pool, requested!.id);
  assert.equal(backup.state, 'completed', `${backup.failureKind}: ${backup.failureReason}`);
  return backup;
}

/** A pending manual backup row, as a request makes it, for tests that then set its state themselves. */
export async function pendingBackupRow(pool: Queryable, resourceId: string, requestedBy = 'x'): Promise<Backup> {
  const backup = await insertBackup(pool, {
    id: randomUUID(),
    resourceId,
    trigger: 'manual',
    format: 'default',
    requestedBy,
  });
  assert.ok(backup, 'the backup row was inserted');
  return backup;
}

/**
 * What a job handler gets from the worker, for calling one directly: the test app's pool, queue, logger,
 * secrets and partner grant, sources allowed on loopback (where the tests' servers are), plus `parts`
 * (the object store, backup settings, the Connect grant). A handler that needs a part left out fails on
 * it, as it would in a misconfigured worker.
 */
export function jobDeps(app: TestApp, parts: Partial<JobDeps> = {}): JobDeps {
  return {
    pool: app.runtime.pool,
    boss: app.boss,
    logger: app.runtime.logger,
    secrets: app.runtime.secrets,
    partner: app.runtime.partner,
    backup: { stallTimeoutMs: 60_000 },
    hosts: LOOPBACK_ALLOWED,
    ...parts,
  } as JobDeps;
}

/** Where a pretended attempt stored its archive. */
export interface StoredArchive {
  key: string;
  bytes: number;
  sha256: string;
}

/**
 * Sets a backup straight to `completed` without running an attempt. `at` is when it finished and was
 * verified (now by default); `startedAt` also makes it created and started then, on attempt 1.
 */
export async function forceCompleted(
  pool: Queryable,
  id: string,
  options: { archive?: StoredArchive; at?: Date; startedAt?: Date } = {},
): Promise<void> {
  await pool.query(
    `update backups set state = 'completed',
       object_key = coalesce($2, object_key), bytes = coalesce($3, bytes), sha256 = coalesce($4, sha256),
       verified_at = coalesce($5::timestamptz, now()), finished_at = coalesce($5::timestamptz, now()),
       attempt = case when $6::timestamptz is null then attempt else 1 end,
       started_at = coalesce($6::timestamptz, started_at), created_at = coalesce($6::timestamptz, created_at)
     where id = $1`,
    [
      id,
      options.archive?.key ?? null,
      options.archive?.bytes ?? null,
      options.archive?.sha256 ?? null,
      options.at ?? null,
      options.startedAt ?? null,
    ],
  );
}

/**
 * Sets a backup straight to `failed` without running an attempt. `at` is when it finished (now by
 * default); `startedAt` also makes it created and started then, on attempt 1.
 */
export async function forceFailed(
  pool: Queryable,
  id: string,
  options: { kind?: string; reason?: string; at?: Date; startedAt?: Date } = {},
): Promise<void> {
  await pool.query(
    `update backups set state = 'failed', failure_kind = $2, failure_reason = $3,
       finished_at = coalesce($4::timestamptz, now()),
       attempt = case when $5::timestamptz is null then attempt else 1 end,
       started_at = coalesce($5::timestamptz, started_at), created_at = coalesce($5::timestamptz, created_at)
     where id = $1`,
    [id, options.kind ?? 'dump_failed', options.reason ?? 'x', options.at ?? null, options.startedAt ?? null],
  );
}

/** Makes the resource's schedule look as if it was last set `interval` ago (a PostgreSQL interval, e.g. '2 hours'). */
export async function backdateSchedule(pool: Queryable, resourceId: string, interval: string): Promise<void> {
  await pool.query(`update backup_schedules set updated_at = now() - $2::interval where resource_id = $1`, [
    resourceId,
    interval,
  ]);
}

/** Makes a backup look unverified (`null`) or verified at `at`, leaving its state as it is. */
export async function setVerifiedAt(pool: Queryable, backupId: string, at: Date | null): Promise<void> {
  await pool.query('update backups set verified_at = $2 where id = $1', [backupId, at]);
}

/** Makes a download link look as if it was made two minutes ago and expired a second ago. */
export async function expireDownloadLink(pool: Queryable, linkId: string): Promise<void> {
  await pool.query(
    `update download_links set created_at = now() - interval '2 minutes', expires_at = now() - interval '1 second' where id = $1`,
    [linkId],
  );
}

/** Records another user as a download link's creator, as if its creator's Heroku email had since changed. */
export async function attributeDownloadLink(pool: Queryable, linkId: string, createdBy: string): Promise<void> {
  await pool.query('update download_links set created_by = $2 where id = $1', [linkId, createdBy]);
}

/**
 * A sharded backup part-way (issue 14), as its attempt and pieces record it: planned in four pieces of
 * `public.big` (two done by `worker.1`, one running on `worker.2`, one waiting). Built through the same
 * repository calls the backup job and the piece jobs make; nothing is dumped.
 */
export async function shardedBackupInFlight(pool: Queryable, resourceId: string): Promise<Backup> {
  const backup = await pendingBackupRow(pool, resourceId);
  const started = await beginAttempt(pool, backup.id);
  assert.ok(started);
  const pieces = [0, 1, 2, 3].map((no) => ({
    no,
    dumpId: 42,
    kind: 'table' as const,
    schema: 'public',
    table: 'big',
    blocks: { fromBlock: no === 0 ? null : no * 1000, toBlock: no === 3 ? null : (no + 1) * 1000 },
    part: no,
    parts: 4,
    copyStatement: 'COPY public.big (id, a, b) FROM stdin;\n',
    estimatedBytes: 8_192_000,
  }));
  const plan: ShardPlan = {
    mode: 'sharded',
    modeReason: 'a fork cannot change while it is dumped',
    headBase64: '',
    archiveVersion: '1.14',
    compressionLevel: 6,
    encoding: 'UTF8',
    serverVersion: '15.8',
    serverMajor: 15,
    pgDumpVersion: '15.8',
    databaseBytes: 40_000_000,
    splitSizeBytes: 8_000_000,
    pieces,
  };
  const deadline = new Date(Date.now() + 48 * 3600_000);
  assert.ok(await recordShardPlan(pool, backup.id, started.token, plan, deadline));
  const run = (no: number, worker: string) =>
    startPieceRun(pool, { backupId: backup.id, attempt: 1, token: started.token, no, worker });
  for (const no of [0, 1]) {
    const piece = await run(no, 'worker.1:101');
    assert.ok(piece);
    assert.ok(
      await recordPieceDone(
        pool,
        { backupId: backup.id, attempt: 1, token: started.token, no, runToken: piece.runToken },
        {
          no,
          key: `k/${no}`,
          bytes: 4_000_000,
          sha256: 'ab'.repeat(32),
          rawBytes: 9_000_000,
          adler32: 7,
          rows: 80_000,
          seconds: 2,
        },
      ),
    );
  }
  assert.ok(await run(2, 'worker.2:202'));
  return (await findBackup(pool, backup.id))!;
}
