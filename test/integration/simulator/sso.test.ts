import test from 'node:test';
import assert from 'node:assert/strict';
import { resourceToken, userScopedResourceToken, SSO_VARIANTS } from '../../../dev/simulator/index.ts';
import { call, SECRETS } from './support/contract-provider.ts';
import { useSimulator } from './support/harness.ts';

const SALT = '2f97bfa52ca102f8874716e2eb1d3b4920ad0be4';

test('token formulas reproduce the worked examples of heroku-contract.md §6.2', () => {
  assert.equal(resourceToken('123', SALT, 1267597772), 'bb466eb1d6bc345d11072c3cd25c311f21be130d');
  assert.equal(
    resourceToken('01234567-89ab-cdef-0123-456789abcdef', SALT, 1700000000),
    '4f86d9a322ac89cfc8dbd27a64cc186a41f234a2',
  );
  assert.equal(
    userScopedResourceToken(
      '01234567-89ab-cdef-0123-456789abcdef',
      SALT,
      1700000000,
      'fedcba98-7654-3210-fedc-ba9876543210',
      'user@example.com',
    ),
    '0dd50a298d6163f3efca20842e61ea2f9d8f78c57d8c2dc1879e43f4d9d8201a',
  );
});

const t = useSimulator();

test('the SSO form carries every §6.2 field, signed for the app owner', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'sso-app' });
  const form = sim.ssoForm(uuid);
  const owner = sim.state.users.get(sim.app('sso-app')!.ownerId)!;
  assert.equal(form.action, provider.ssoUrl);
  assert.equal(form.method, 'post');
  const p = form.params;
  assert.deepEqual(
    Object.keys(p).sort(),
    [
      'app',
      'context_app',
      'email',
      'nav-data',
      'resource_id',
      'resource_token',
      'timestamp',
      'user_id',
      'user_scoped_resource_token',
    ].sort(),
  );
  assert.equal(p.resource_id, uuid);
  assert.equal(p.app, 'sso-app');
  assert.equal(p.context_app, 'sso-app');
  assert.equal(p.user_id, owner.id);
  assert.equal(p.email, owner.email);
  assert.equal(p.resource_token, resourceToken(uuid, SECRETS.ssoSalt, p.timestamp!));
  assert.equal(
    p.user_scoped_resource_token,
    userScopedResourceToken(uuid, SECRETS.ssoSalt, p.timestamp!, owner.id, owner.email),
  );
  assert.deepEqual(JSON.parse(Buffer.from(p['nav-data']!, 'base64url').toString()).appname, 'sso-app');
});

test('a contract-following provider accepts the honest variants and refuses every wrong one', async () => {
  const { sim } = t;
  const { uuid } = await sim.provision();
  await sim.provision(); // so "other-resource" signs with a real add-on's uuid
  const accepted: string[] = [];
  for (const variant of SSO_VARIANTS) {
    const form = sim.ssoForm(uuid, { variant });
    const res = await call(form.action, { method: 'POST', body: new URLSearchParams(form.params) });
    if (res.status === 303) accepted.push(variant);
    else assert.equal(res.status, 403, `${variant} → ${res.status}`);
  }
  assert.deepEqual(accepted, ['valid', 'resource-token-only', 'user-scoped-only']);
});

test('the wrong variants differ from the honest form only where they should', async () => {
  const { sim } = t;
  const { uuid } = await sim.provision();
  const valid = sim.ssoForm(uuid).params;
  assert.match(sim.ssoForm(uuid, { variant: 'malformed' }).params.resource_token!, /^z{40}$/);
  assert.equal(sim.ssoForm(uuid, { variant: 'wrong-length' }).params.resource_token!.length, 38);
  assert.equal(Number(sim.ssoForm(uuid, { variant: 'stale' }).params.timestamp), Number(valid.timestamp) - 360);
  assert.equal(Number(sim.ssoForm(uuid, { variant: 'future' }).params.timestamp), Number(valid.timestamp) + 360);
  assert.equal(sim.ssoForm(uuid, { variant: 'resource-token-only' }).params.user_scoped_resource_token, undefined);
  assert.equal(sim.ssoForm(uuid, { variant: 'user-scoped-only' }).params.resource_token, undefined);
  const other = sim.ssoForm(uuid, { variant: 'other-resource', otherResourceId: 'another-uuid' }).params;
  assert.equal(other.resource_id, uuid);
  assert.equal(other.resource_token, resourceToken('another-uuid', SECRETS.ssoSalt, other.timestamp!));
});

test('serves an auto-submitting page that posts the form to the provider', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  const res = await fetch(`${sim.url}/sso/${uuid}?user=someone@example.com`);
  const html = await res.text();
  assert.equal(res.status, 200);
  assert.match(
    html,
    new RegExp(`<form id="sso" method="post" action="${provider.ssoUrl.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}">`),
  );
  assert.match(html, new RegExp(`name="resource_id" value="${uuid}"`));
  assert.match(html, /name="email" value="someone@example.com"/);
  assert.match(html, /\.submit\(\)/);
});

test('answers the CLI 3.sdk SSO request for a collaborator and refuses a partner token', async () => {
  const { sim, provider } = t;
  const outcome = await sim.provision({ app: 'cli-sso-app' });
  const user = sim.issueUserToken({ user: 'owner@example.com', scopes: ['global'] });
  const res = await call(`${sim.url}/apps/cli-sso-app/addons/${outcome.uuid}/sso`, {
    headers: { Accept: 'application/vnd.heroku+json; version=3.sdk', Authorization: `Bearer ${user.access_token}` },
  });
  assert.equal(res.status, 200);
  assert.equal(res.body.method, 'post');
  assert.equal(res.body.action, provider.ssoUrl);
  assert.equal(res.body.params.resource_id, outcome.uuid);
  const partner = await provider.api(outcome.uuid, 'GET', `/apps/cli-sso-app/addons/${outcome.uuid}/sso`);
  assert.equal(partner.status, 403);
});
