import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { CONNECT_CLIENT, connectClientEnv, connectedResource } from '../../support/factories.ts';
import { connectDeps, withConnectApi, ConnectionUnavailableError } from '../../../src/heroku/connect-authorization.ts';

// The connected account's grant refreshes under the same lock as the partner grant
// (heroku/refresh-under-lock.ts; the partner side is test/integration/web/partner-authorization.test.ts).
// Access tokens live 2 minutes, inside the 5-minute refresh margin, so every use refreshes.
const stack = await startStack({
  sim: { oauthClients: [CONNECT_CLIENT], accessTokenTtlSeconds: 120 },
  env: connectClientEnv,
});
const { app, sim } = stack;
const db = app.runtime.pool;
const deps = connectDeps({ pool: db, secrets: app.runtime.secrets }, app.config);
const connection = (id: string) =>
  db
    .query('select status, last_error, access_token_ciphertext from heroku_connections where resource_id = $1', [id])
    .then((r) => r.rows[0]);

/** A provisioned add-on whose owner connected their Heroku account in the dashboard. */
async function connected() {
  const { uuid, owner } = await connectedResource(stack);
  assert.equal((await connection(uuid))?.status, 'connected');
  return { uuid, owner };
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
