import test from 'node:test';
import assert from 'node:assert/strict';
import { Browser, startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { connectDeps, withConnectApi, ConnectionUnavailableError } from '../../../src/heroku/connect-authorization.ts';

// The connected account's grant refreshes under the same lock as the partner grant
// (heroku/refresh-under-lock.ts; the partner side is test/integration/partner-authorization.test.ts).
// Access tokens live 2 minutes, inside the 5-minute refresh margin, so every use refreshes.
const CONNECT = { id: 'big-backup-connect', secret: 'connect-client-secret-for-tests-only' };
const { app, sim } = await startStack({
  sim: { oauthClients: [{ id: CONNECT.id, secret: CONNECT.secret }], accessTokenTtlSeconds: 120 },
  env: { HEROKU_CONNECT_CLIENT_ID: CONNECT.id, HEROKU_CONNECT_CLIENT_SECRET: CONNECT.secret },
});
const db = app.runtime.pool;
const deps = connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config);
const connection = (id: string) =>
  db
    .query('select status, last_error, access_token_ciphertext from heroku_connections where resource_id = $1', [id])
    .then((r) => r.rows[0]);

let counter = 0;

/** A provisioned add-on whose owner connected their Heroku account in the dashboard. */
async function connected() {
  const owner = `owner-${++counter}-${Date.now()}@example.com`;
  const outcome = await sim.provision({ plan: 'standard', app: { owner, collaborators: [] } });
  assert.equal(outcome.result, 'provisioned');
  await eventually(
    async () => (await db.query('select app_name from resources where id = $1', [outcome.uuid])).rows[0]?.app_name,
    { what: 'the app name' },
  );
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(outcome.uuid, { user: owner }))).status, 303);
  const authorize = new URL((await browser.request('GET', '/connect/heroku')).headers.get('location')!);
  authorize.searchParams.set('user', owner);
  const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
  assert.equal((await browser.request('GET', callback.pathname + callback.search)).status, 303);
  assert.equal((await connection(outcome.uuid))?.status, 'connected');
  return { uuid: outcome.uuid, owner };
}

test("a connected account's token about to expire is refreshed before use, and the new token is stored", async () => {
  const { uuid } = await connected();
  const before = await connection(uuid);
  const requestsBefore = sim.log.tokenRequests({ grantType: 'refresh_token' }).length;
  const account = await withConnectApi(deps, uuid, (api) => api.account());
  assert.ok(account.email);
  assert.ok(sim.log.tokenRequests({ grantType: 'refresh_token' }).length > requestsBefore, 'a refresh was asked for');
  assert.notEqual(
    (await connection(uuid)).access_token_ciphertext,
    before.access_token_ciphertext,
    'the refreshed token is stored',
  );
});

test('concurrent uses of a connected account refresh one at a time, and every caller gets a working token', async () => {
  const { uuid } = await connected();
  const accounts = await Promise.all(
    Array.from({ length: 5 }, () => withConnectApi(deps, uuid, (api) => api.account())),
  );
  for (const account of accounts) assert.ok(account.email);
  assert.equal((await connection(uuid)).status, 'connected');
});

test('a connected account whose refresh Heroku refuses is marked "reconnect needed", and the refusal is kept although the call fails', async () => {
  const { uuid, owner } = await connected();
  assert.ok(sim.faults.revokeUserAuthorizations(owner) >= 1);
  await assert.rejects(
    withConnectApi(deps, uuid, (api) => api.account()),
    ConnectionUnavailableError,
  );
  const row = await connection(uuid);
  assert.equal(row.status, 'reconnect_needed');
  assert.match(row.last_error, /refused to refresh/);
  assert.equal(row.access_token_ciphertext, null);
  // Known dead: the next use fails at once, without asking Heroku.
  const requests = sim.log.requests.length;
  await assert.rejects(
    withConnectApi(deps, uuid, (api) => api.account()),
    /reconnect needed/,
  );
  assert.equal(sim.log.requests.length, requests);
});
