import test from 'node:test';
import assert from 'node:assert/strict';
import { call } from './support/contract-provider.ts';
import { useSimulator } from './support/harness.ts';

const t = useSimulator({ accessTokenTtlSeconds: 60 });

test('Bearer and Basic ":token" both authenticate', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'auth-styles' });
  const bearer = await provider.api(uuid, 'GET', `/addons/${uuid}`, { style: 'bearer' });
  const basic = await provider.api(uuid, 'GET', `/addons/${uuid}`, { style: 'basic' });
  assert.equal(bearer.status, 200);
  assert.deepEqual(basic.body, bearer.body);
  const recorded = sim.log.apiRequests({ addonId: uuid }).map((r) => r.auth.scheme);
  assert.deepEqual(recorded, ['bearer', 'basic']);
});

test('GET /addons/{id} returns the add-on object a partner needs', async () => {
  const { sim, provider } = t;
  const { uuid, addon } = await sim.provision({ app: 'info-app', plan: 'standard' });
  const app = sim.app('info-app')!;
  const byId = await provider.api(uuid, 'GET', `/addons/${uuid}`);
  const byName = await provider.api(uuid, 'GET', `/addons/${addon.name}`);
  assert.deepEqual(byName.body, byId.body);
  const b = byId.body;
  assert.equal(b.id, uuid);
  assert.equal(b.name, addon.name);
  assert.deepEqual(b.app, { id: app.id, name: 'info-app' });
  assert.equal(b.plan.name, 'big-backup:standard');
  assert.equal(b.addon_service.name, 'big-backup');
  assert.equal(b.state, 'provisioned');
  assert.deepEqual(b.config_vars, ['BIG_BACKUP_URL']);
  assert.equal(b.provider_id, uuid);
  assert.equal(b.web_url, `${sim.url}/sso/${uuid}`);
  assert.match(b.created_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
});

test('an expired access token gets 401 and is recorded as expired', async () => {
  const { sim, provider, clock } = t;
  const { uuid } = await sim.provision();
  clock.advance(60_000);
  try {
    const res = await provider.api(uuid, 'GET', `/addons/${uuid}`);
    assert.equal(res.status, 401);
    assert.equal(res.body.id, 'unauthorized');
  } finally {
    clock.advance(-60_000);
  }
  const [last] = sim.log.apiRequests({ addonId: uuid }).slice(-1);
  assert.equal(last!.auth.tokenState, 'expired');
  assert.equal(last!.auth.token, provider.resources.get(uuid)!.tokens!.access);
});

test('expireAccessTokens makes a token expire now while refresh keeps working', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  assert.equal(sim.faults.expireAccessTokens(uuid), 1);
  assert.equal((await provider.api(uuid, 'GET', `/addons/${uuid}`)).status, 401);
  const refreshed = await provider.token({
    grant_type: 'refresh_token',
    refresh_token: provider.resources.get(uuid)!.tokens!.refresh,
    client_secret: 'oauth-client-secret-for-tests',
  });
  assert.equal(
    (await provider.api(uuid, 'GET', `/addons/${uuid}`, { token: refreshed.body.access_token })).status,
    200,
  );
});

test('an unknown token or no token gets 401', async () => {
  const { sim } = t;
  const { uuid } = await sim.provision();
  const unknown = await call(`${sim.url}/addons/${uuid}`, {
    headers: { Accept: 'application/vnd.heroku+json; version=3', Authorization: 'Bearer HRKU-nope' },
  });
  assert.equal(unknown.status, 401);
  assert.deepEqual(Object.keys(unknown.body).sort(), ['id', 'message']);
  const none = await call(`${sim.url}/addons/${uuid}`, {
    headers: { Accept: 'application/vnd.heroku+json; version=3' },
  });
  assert.equal(none.status, 401);
});

test('a partner token gets 403 on the app config vars but may read the app and its collaborators', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'secret-app' });
  const vars = await provider.api(uuid, 'GET', '/apps/secret-app/config-vars');
  assert.equal(vars.status, 403);
  assert.equal(vars.body.id, 'forbidden');
  const app = await provider.api(uuid, 'GET', '/apps/secret-app');
  assert.equal(app.status, 200);
  assert.equal(app.body.name, 'secret-app');
  assert.equal(app.body.owner.email, 'owner@example.com');
  const collaborators = await provider.api(uuid, 'GET', '/apps/secret-app/collaborators');
  assert.deepEqual(
    collaborators.body.map((c: { user: { email: string } }) => c.user.email),
    ['owner@example.com', 'collaborator@example.com'],
  );
});

test('a token for another add-on is refused on this add-on and on this app', async () => {
  const { sim, provider } = t;
  const mine = await sim.provision({ app: 'mine-app' });
  const theirs = await sim.provision({ app: 'theirs-app' });
  const token = provider.resources.get(theirs.uuid)!.tokens!.access;
  for (const path of [`/addons/${mine.uuid}`, `/addons/${mine.uuid}/config`, '/apps/mine-app']) {
    const res = await provider.api(mine.uuid, 'GET', path, { token });
    assert.equal(res.status, 403, path);
  }
  const patch = await provider.api(mine.uuid, 'PATCH', `/addons/${mine.uuid}/config`, {
    token,
    body: { config: [{ name: 'BIG_BACKUP_URL', value: 'https://evil.example.com' }] },
  });
  assert.equal(patch.status, 403);
  const missing = await provider.api(mine.uuid, 'GET', '/addons/00000000-0000-0000-0000-000000000000', { token });
  assert.equal(missing.status, 404);
});

test('a partner lists only its own add-on', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  const list = await provider.api(uuid, 'GET', '/addons');
  assert.deepEqual(
    list.body.map((a: { id: string }) => a.id),
    [uuid],
  );
});

test('rate limiting answers 429 with Retry-After, then recovers', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  sim.faults.rateLimitNext(1, 7);
  const limited = await provider.api(uuid, 'GET', `/addons/${uuid}`);
  assert.equal(limited.status, 429);
  assert.equal(limited.headers.get('retry-after'), '7');
  assert.equal(limited.body.id, 'rate_limit');
  assert.equal((await provider.api(uuid, 'GET', `/addons/${uuid}`)).status, 200);
});

test('a Platform API call without the version 3 Accept header is reported', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  const token = provider.resources.get(uuid)!.tokens!.access;
  const res = await call(`${sim.url}/addons/${uuid}`, { headers: { Authorization: `Bearer ${token}` } });
  assert.equal(res.status, 200);
  assert.equal(sim.log.violations.at(-1)!.kind, 'missing-api-version-header');
});

test('unknown endpoints answer a JSON 404', async () => {
  const { sim } = t;
  const res = await call(`${sim.url}/nowhere`);
  assert.equal(res.status, 404);
  assert.equal(res.body.id, 'not_found');
});
