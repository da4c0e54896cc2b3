import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';

// Heroku sources (an attachment's config var, a fork's URL) are dumped with at least sslmode=require,
// whatever the URL says: here Heroku's database runs on a server that cannot speak TLS (what a
// downgrade looks like from our side), so a Heroku-source backup must fail rather than go on in plain
// text. A URL the customer typed keeps the sslmode they chose (unset: libpq's prefer).
const CONNECT = { id: 'big-backup-connect', secret: 'connect-client-secret-for-tests-only' };
const plain = await startSourceServer(undefined, { tls: false });
after(() => plain.stop());
const { app, sim } = await startStack({
  sim: { oauthClients: [{ id: CONNECT.id, secret: CONNECT.secret }], postgres: { adminUrl: plain.url('postgres') } },
  env: {
    HEROKU_CONNECT_CLIENT_ID: CONNECT.id,
    HEROKU_CONNECT_CLIENT_SECRET: CONNECT.secret,
    FORK_POLL_INTERVAL_SECONDS: '0.2',
    FORK_READY_TIMEOUT_SECONDS: '3',
  },
});
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
let counter = 0;

/** A provisioned add-on whose app's DATABASE_URL (no sslmode, as Heroku writes it) is on the plain server, connected. */
async function connectedResource(plan: string) {
  const n = ++counter;
  const owner = `owner-${n}-${Date.now()}@example.com`;
  const databaseUrl = await seedSourceDatabase(plain, `tls_${n}`);
  assert.doesNotMatch(databaseUrl, /sslmode/);
  const outcome = await sim.provision({ plan: 'standard', app: { owner, collaborators: [] } });
  const appName = sim.app(outcome.addon.appId)!.name;
  const database = sim.attachPostgres(appName, { url: databaseUrl, plan });
  await eventually(
    async () => (await db.query('select app_name from resources where id = $1', [outcome.uuid])).rows[0]?.app_name,
    { what: 'the app name' },
  );
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(outcome.uuid, { user: owner }))).status, 303);
  const start = await browser.request('GET', '/connect/heroku');
  const authorize = new URL(start.headers.get('location')!);
  authorize.searchParams.set('user', owner);
  const approved = await fetch(authorize, { redirect: 'manual' });
  const callback = new URL(approved.headers.get('location')!);
  assert.equal((await browser.request('GET', callback.pathname + callback.search)).status, 303);
  return { uuid: outcome.uuid, owner, browser, databaseUrl, databaseId: database.id };
}

const settled = (id: string) =>
  eventually(
    async () => {
      const b = await findBackup(db, id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs: 60_000, what: 'the backup to settle' },
  );

test('a fork on a server without TLS is never dumped in plain text', async () => {
  const r = await connectedResource('standard-0');
  const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const done = await settled(requested!.id);
  assert.equal(done.state, 'failed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.failureKind, 'fork_timeout');
  assert.match(done.failureReason!, /does not support SSL/);
});

test('a config-var URL dumped directly (no fork) is dumped over TLS or not at all, even when it says sslmode=disable', async () => {
  const r = await connectedResource('essential-0');
  assert.equal((await r.browser.submit('/settings/heroku', { allow_direct_fallback: '1' })).status, 303);
  for (const url of [r.databaseUrl, `${r.databaseUrl}?sslmode=disable`, `${r.databaseUrl}?sslmode=prefer`]) {
    sim.rotatePostgresCredentials(r.databaseId, url);
    const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
    const done = await settled(requested!.id);
    assert.equal(done.state, 'failed', `${url}: ${done.failureKind}: ${done.failureReason}`);
    assert.equal(done.failureKind, 'connection_failed');
    assert.match(done.failureReason!, /does not support SSL/);
    assert.equal(done.attempt, 1, 'not retried: a server without TLS will not grow it before a retry');
  }
});

test('a URL the customer gave keeps the sslmode it says (none: prefer), so a plain server still works', async () => {
  const r = await connectedResource('standard-0');
  await setDirectSource(db, app.runtime.secrets, r.uuid, r.databaseUrl, 'admin@example.com');
  const requested = await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner });
  const done = await settled(requested!.id);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
});
