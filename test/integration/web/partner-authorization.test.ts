import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { provisionedResource } from '../../support/factories.ts';
import { withPartnerApi, AuthorizationUnavailableError } from '../../../src/heroku/partner-authorization.ts';

// Short-lived tokens, so every use is inside the five-minute refresh margin and refreshing is exercised.
const stack = await startStack({ sim: { accessTokenTtlSeconds: 120 } });
const { app, sim } = stack;
const db = app.runtime.pool;

const authorization = (id: string) =>
  db
    .query(
      'select status, access_token_ciphertext, refresh_token_ciphertext, failure_reason from heroku_authorizations where resource_id = $1',
      [id],
    )
    .then((r) => r.rows[0]);

test('exchanges the provision grant exactly once, promptly, and learns the app', async () => {
  const { outcome } = await provisionedResource(stack);
  assert.equal(sim.log.tokenRequests({ addonId: outcome.uuid, grantType: 'authorization_code' }).length, 1);
  const row = await eventually(
    async () =>
      (await db.query('select app_id, app_name from resources where id = $1', [outcome.uuid])).rows.find(
        (r) => r.app_name,
      ),
    { what: 'app name' },
  );
  const simApp = sim.app(outcome.addon.appId)!;
  assert.equal(row.app_name, simApp.name);
  assert.equal(row.app_id, simApp.id);
});

test('stores tokens only as ciphertext', async () => {
  const { outcome } = await provisionedResource(stack);
  const row = await authorization(outcome.uuid);
  assert.ok(!row.access_token_ciphertext.includes('HRKU-'));
  assert.ok(!row.refresh_token_ciphertext.includes('HRKU-'));
  const dump = await db.query(`select string_agg(t::text, ' ') as all from (select * from heroku_authorizations) t`);
  assert.ok(!dump.rows[0].all.includes('HRKU-'));
});

test('the simulator refuses a second exchange of the same code', async () => {
  const { outcome } = await provisionedResource(stack);
  const response = await fetch(new URL('/oauth/token', sim.url), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'authorization_code',
      code: outcome.grantCode!,
      client_secret: app.config.HEROKU_OAUTH_CLIENT_SECRET,
    }),
  });
  assert.equal(response.status, 400);
});

test('refreshes a token about to expire before using it, and never calls with an expired one', async () => {
  const { outcome } = await provisionedResource(stack);
  const before = sim.log.tokenRequests({ addonId: outcome.uuid, grantType: 'refresh_token' }).length;
  const addon = await withPartnerApi(app.runtime.partner, outcome.uuid, (api) => api.getAddon(outcome.uuid));
  assert.equal(addon.id, outcome.uuid);
  assert.ok(sim.log.tokenRequests({ addonId: outcome.uuid, grantType: 'refresh_token' }).length > before);
  assert.ok(!sim.log.apiRequests({ addonId: outcome.uuid }).some((r) => r.auth.tokenState === 'expired'));
});

test('refreshes and retries once when Heroku answers 401 to a token it expired early', async () => {
  const { outcome } = await provisionedResource(stack);
  sim.faults.expireAccessTokens(outcome.uuid);
  const addon = await withPartnerApi(app.runtime.partner, outcome.uuid, (api) => api.getAddon(outcome.uuid));
  assert.equal(addon.id, outcome.uuid);
});

test('serialises concurrent refreshes so every caller gets a working token', async () => {
  const { outcome } = await provisionedResource(stack);
  const results = await Promise.all(
    Array.from({ length: 5 }, () =>
      withPartnerApi(app.runtime.partner, outcome.uuid, (api) => api.getAddon(outcome.uuid)),
    ),
  );
  for (const addon of results) assert.equal(addon.id, outcome.uuid);
});

test('marks a revoked authorization and refuses to use it', async () => {
  const { outcome } = await provisionedResource(stack);
  sim.faults.revokeAuthorization(outcome.uuid);
  await assert.rejects(
    withPartnerApi(app.runtime.partner, outcome.uuid, (api) => api.getAddon(outcome.uuid)),
    AuthorizationUnavailableError,
  );
  const row = await authorization(outcome.uuid);
  assert.equal(row.status, 'revoked');
  assert.match(row.failure_reason, /refused to refresh/);
});

test('retries the exchange while id.heroku.com is failing, then succeeds', async () => {
  sim.faults.failNextTokenRequests(2, 503);
  const outcome = await sim.provision();
  assert.equal(outcome.status, 200);
  await eventually(async () => (await authorization(outcome.uuid))?.status === 'active', {
    timeoutMs: 30_000,
    what: 'exchange after retries',
  });
  assert.equal(
    sim.log.tokenRequests({ addonId: outcome.uuid, grantType: 'authorization_code' }).filter((r) => r.status === 200)
      .length,
    1,
  );
});

test('records a provision without a grant as failed authorization, still answering 200', async () => {
  const outcome = await sim.provision({ grant: false });
  assert.equal(outcome.status, 200);
  const row = await authorization(outcome.uuid);
  assert.equal(row.status, 'failed');
});

test('never logs tokens, codes or secrets', async () => {
  const logs = app.logs.text();
  assert.ok(logs.length > 0);
  for (const secret of [app.config.HEROKU_OAUTH_CLIENT_SECRET, app.config.HEROKU_ADDON_PASSWORD, 'HRKU-'])
    assert.ok(!logs.includes(secret), secret);
  for (const request of sim.log.tokenRequests({})) assert.ok(!logs.includes(request.auth.token ?? '\u0000'));
});
