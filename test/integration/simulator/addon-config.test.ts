import test from 'node:test';
import assert from 'node:assert/strict';
import { startHerokuSimulator } from '../../../dev/simulator/index.ts';
import { SECRETS } from './support/contract-provider.ts';
import { useSimulator } from './support/harness.ts';

const t = useSimulator();

test('config PATCH refuses names the manifest does not declare', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'cfg-app' });
  const releases = sim.app('cfg-app')!.releases.length;
  const res = await provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
    body: { config: [{ name: 'BIG_BACKUP_TOKEN', value: 'x' }] },
  });
  assert.equal(res.status, 422);
  assert.equal(res.body.id, 'invalid_params');
  assert.match(res.body.message, /BIG_BACKUP_TOKEN is not declared/);
  assert.equal(sim.app('cfg-app')!.releases.length, releases);
});

test('config PATCH refuses a *_URL value that is not a URL and a non-string value', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  for (const value of ['not a url', 42]) {
    const res = await provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
      body: { config: [{ name: 'BIG_BACKUP_URL', value }] },
    });
    assert.equal(res.status, 422, String(value));
  }
  const malformed = await provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
    body: { BIG_BACKUP_URL: 'https://x.example.com' },
  });
  assert.equal(malformed.status, 422);
});

test('config PATCH accepts the bare name, normalises it and makes a release once provisioned', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'bare-app' });
  const app = sim.app('bare-app')!;
  const releases = app.releases.length;
  const res = await provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
    body: { config: [{ name: 'URL', value: 'https://rotated.example.com/r/1' }] },
  });
  assert.equal(res.status, 200);
  assert.deepEqual(res.body, [{ name: 'BIG_BACKUP_URL', value: 'https://rotated.example.com/r/1' }]);
  assert.equal(app.configVars.BIG_BACKUP_URL, 'https://rotated.example.com/r/1');
  assert.equal(app.releases.length, releases + 1);
  const read = await provider.api(uuid, 'GET', `/addons/${uuid}/config`);
  assert.deepEqual(read.body, res.body);
});

test('config PATCH by a user token is refused: only the providing partner may set config', async () => {
  const { sim } = t;
  const { uuid } = await sim.provision({ app: 'user-patch-app' });
  const user = sim.issueUserToken({ user: 'owner@example.com' });
  const res = await t.provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
    token: user.access_token,
    body: { config: [{ name: 'URL', value: 'https://x.example.com' }] },
  });
  assert.equal(res.status, 403);
});

test('a provision answer with an undeclared or invalid config var fails the provision', async () => {
  const { sim, provider } = t;
  provider.override = (req, res) => {
    if (req.method !== 'POST') return false;
    res.json({ id: req.body.uuid, config: { BIG_BACKUP_URL: 'not a url', OTHER_URL: 'https://x.example.com' } });
    return true;
  };
  try {
    const outcome = await sim.provision({ app: 'bad-config-app' });
    assert.equal(outcome.result, 'failed');
    assert.deepEqual(
      outcome.violations.map((v) => v.kind),
      ['invalid-config'],
    );
    assert.match(outcome.violations[0]!.message, /OTHER_URL is not declared/);
    assert.match(outcome.violations[0]!.message, /BIG_BACKUP_URL must be a URL/);
    assert.deepEqual(sim.app('bad-config-app')!.configVars, {});
  } finally {
    provider.override = null;
  }
});

test('the declared config var list is an option', async () => {
  const { provider } = t;
  const sim = await startHerokuSimulator({
    addon: {
      id: SECRETS.addonId,
      password: SECRETS.password,
      ssoSalt: SECRETS.ssoSalt,
      baseUrl: provider.baseUrl,
      ssoUrl: provider.ssoUrl,
      configVars: ['BIG_BACKUP_URL', 'BIG_BACKUP_TOKEN'],
    },
    oauthClientSecret: SECRETS.clientSecret,
  });
  provider.herokuUrl = sim.url;
  try {
    const { uuid } = await sim.provision();
    const res = await provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
      body: { config: [{ name: 'TOKEN', value: 'abc' }] },
    });
    assert.equal(res.status, 200);
  } finally {
    provider.herokuUrl = t.sim.url;
    await sim.stop();
  }
});
