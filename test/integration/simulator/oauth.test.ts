import test from 'node:test';
import assert from 'node:assert/strict';
import { call, SECRETS } from './support/contract-provider.ts';
import { useSimulator } from './support/harness.ts';

const t = useSimulator({
  accessTokenTtlSeconds: 60,
  oauthClients: [{ id: 'connect-client', secret: 'connect-secret', redirectUri: 'http://127.0.0.1:9/callback' }],
});

test('the grant code exchanges once for HRKU tokens in the §3.1 shape', async () => {
  const { sim, provider } = t;
  const outcome = await sim.provision();
  const resource = provider.resources.get(outcome.uuid)!;
  assert.equal(resource.exchange!.status, 200);
  const body = resource.exchange!.body as Record<string, unknown>;
  assert.deepEqual(Object.keys(body).sort(), [
    'access_token',
    'expires_in',
    'refresh_token',
    'session_nonce',
    'token_type',
    'user_id',
  ]);
  assert.match(body.access_token as string, /^HRKU-/);
  assert.match(body.refresh_token as string, /^HRKU-/);
  assert.equal(body.token_type, 'Bearer');
  assert.equal(body.expires_in, 60);
  assert.equal(body.user_id, sim.state.partnerUserId);
  const exchanges = sim.log.tokenRequests({ addonId: outcome.uuid, grantType: 'authorization_code' });
  assert.equal(exchanges.length, 1);
  assert.equal(exchanges[0]!.status, 200);
});

test('refuses a grant code used twice', async () => {
  const { sim, provider } = t;
  const outcome = await sim.provision();
  const again = await provider.token({
    grant_type: 'authorization_code',
    code: outcome.grantCode!,
    client_secret: SECRETS.clientSecret,
  });
  assert.equal(again.status, 400);
  assert.equal(again.body.id, 'invalid_grant');
  assert.equal(typeof again.body.message, 'string');
});

test('refuses an expired grant code', async () => {
  const { sim, provider, clock } = t;
  const outcome = await withoutExchange(() => sim.provision());
  clock.advance(300_000);
  const res = await provider.token({
    grant_type: 'authorization_code',
    code: outcome.grantCode!,
    client_secret: SECRETS.clientSecret,
  });
  clock.advance(-300_000);
  assert.equal(res.status, 400);
  assert.equal(res.body.id, 'invalid_grant');
  assert.match(res.body.message, /expired/);
});

test('refuses a wrong client secret with 401 and leaves the code usable', async () => {
  const { sim, provider } = t;
  const outcome = await withoutExchange(() => sim.provision());
  const wrong = await provider.token({
    grant_type: 'authorization_code',
    code: outcome.grantCode!,
    client_secret: 'not-the-secret',
  });
  assert.equal(wrong.status, 401);
  assert.deepEqual(Object.keys(wrong.body).sort(), ['id', 'message']);
  assert.equal(wrong.body.id, 'unauthorized');
  const right = await provider.token({
    grant_type: 'authorization_code',
    code: outcome.grantCode!,
    client_secret: SECRETS.clientSecret,
  });
  assert.equal(right.status, 200);
});

test('refresh returns a new access token with the same refresh token', async () => {
  const { sim, provider } = t;
  const outcome = await sim.provision();
  const held = provider.resources.get(outcome.uuid)!.tokens!;
  const res = await provider.token({
    grant_type: 'refresh_token',
    refresh_token: held.refresh,
    client_secret: SECRETS.clientSecret,
  });
  assert.equal(res.status, 200);
  assert.notEqual(res.body.access_token, held.access);
  assert.equal(res.body.refresh_token, held.refresh);
  const info = await provider.api(outcome.uuid, 'GET', `/addons/${outcome.uuid}`, { token: res.body.access_token });
  assert.equal(info.status, 200);
  const bad = await provider.token({ grant_type: 'refresh_token', refresh_token: held.refresh, client_secret: 'nope' });
  assert.equal(bad.status, 401);
  const unknown = await provider.token({
    grant_type: 'refresh_token',
    refresh_token: 'HRKU-unknown',
    client_secret: SECRETS.clientSecret,
  });
  assert.equal(unknown.status, 400);
});

test('refuses JSON bodies and unknown grant types at the token endpoint', async () => {
  const { sim } = t;
  const json = await call(`${sim.url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ grant_type: 'refresh_token' }),
  });
  assert.equal(json.status, 400);
  const odd = await t.provider.token({ grant_type: 'password', client_secret: SECRETS.clientSecret });
  assert.equal(odd.status, 400);
  assert.equal(odd.body.id, 'unsupported_grant_type');
});

test('injected token failures answer 5xx without consuming the code', async () => {
  const { sim, provider } = t;
  provider.mode = 'async';
  sim.faults.failNextTokenRequests(1, 503);
  const outcome = await sim.provision();
  provider.mode = 'sync';
  assert.equal(provider.resources.get(outcome.uuid)!.exchange!.status, 503);
  const retry = await provider.token({
    grant_type: 'authorization_code',
    code: outcome.grantCode!,
    client_secret: SECRETS.clientSecret,
  });
  assert.equal(retry.status, 200);
  const attempts = sim.log.tokenRequests({ grantType: 'authorization_code' }).filter((r) => r.status === 503);
  assert.equal(attempts.length, 1);
});

test('a user authorizes a client, and its read-protected token reads app config vars', async () => {
  const { sim } = t;
  await sim.provision({ app: 'user-flow-app' });
  const authorize = await fetch(
    `${sim.url}/oauth/authorize?client_id=connect-client&response_type=code&scope=read-protected&state=xyz&redirect_uri=${encodeURIComponent('http://127.0.0.1:9/callback')}`,
    { redirect: 'manual' },
  );
  assert.equal(authorize.status, 302);
  const location = new URL(authorize.headers.get('location')!);
  assert.equal(location.origin + location.pathname, 'http://127.0.0.1:9/callback');
  assert.equal(location.searchParams.get('state'), 'xyz');
  const token = await t.provider.token({
    grant_type: 'authorization_code',
    code: location.searchParams.get('code')!,
    client_secret: 'connect-secret',
  });
  assert.equal(token.status, 200);
  const vars = await call(`${sim.url}/apps/user-flow-app/config-vars`, {
    headers: { Accept: 'application/vnd.heroku+json; version=3', Authorization: `Bearer ${token.body.access_token}` },
  });
  assert.equal(vars.status, 200);
  assert.ok('BIG_BACKUP_URL' in vars.body);
  const narrow = sim.issueUserToken({ user: 'owner@example.com', scopes: ['read'] });
  const refused = await call(`${sim.url}/apps/user-flow-app/config-vars`, {
    headers: { Accept: 'application/vnd.heroku+json; version=3', Authorization: `Bearer ${narrow.access_token}` },
  });
  assert.equal(refused.status, 403);
});

async function withoutExchange<T>(fn: () => Promise<T>): Promise<T> {
  t.provider.exchangeGrants = false;
  try {
    return await fn();
  } finally {
    t.provider.exchangeGrants = true;
  }
}
