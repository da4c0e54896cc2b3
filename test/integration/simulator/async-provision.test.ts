import test from 'node:test';
import assert from 'node:assert/strict';
import { useSimulator } from './support/harness.ts';

const t = useSimulator({ asyncProvisionTimeoutMs: 60 * 60 * 1000 });

/** Runs fn with the provider answering provisions 202. */
async function asyncMode<T>(fn: () => Promise<T>): Promise<T> {
  t.provider.mode = 'async';
  try {
    return await fn();
  } finally {
    t.provider.mode = 'sync';
  }
}

test('a 202 answer stays provisioning until the provider calls actions/provision', async () => {
  const { sim, provider } = t;
  const outcome = await asyncMode(() => sim.provision({ app: 'async-app' }));
  const app = sim.app('async-app')!;
  const releases = app.releases.length;
  assert.equal(outcome.status, 202);
  assert.equal(outcome.result, 'provisioning');
  assert.equal(sim.addon(outcome.uuid)!.state, 'provisioning');
  assert.equal(sim.addon(outcome.uuid)!.providerId, outcome.uuid);

  const patch = await provider.api(outcome.uuid, 'PATCH', `/addons/${outcome.uuid}/config`, {
    body: { config: [{ name: 'BIG_BACKUP_URL', value: `${provider.url}/r/${outcome.uuid}` }] },
  });
  assert.equal(patch.status, 200);
  assert.deepEqual(patch.body, [{ name: 'BIG_BACKUP_URL', value: `${provider.url}/r/${outcome.uuid}` }]);
  assert.equal(sim.addon(outcome.uuid)!.state, 'provisioning');
  assert.equal(app.releases.length, releases, 'config set while provisioning makes no release');

  const done = await provider.api(outcome.uuid, 'POST', `/addons/${outcome.uuid}/actions/provision`);
  assert.equal(done.status, 200);
  assert.equal(done.body.state, 'provisioned');
  assert.equal(sim.addon(outcome.uuid)!.state, 'provisioned');
  assert.equal(app.releases.length, releases + 1);
  assert.equal(app.configVars.BIG_BACKUP_URL, `${provider.url}/r/${outcome.uuid}`);
});

test('a replay while still provisioning may answer 202 again without harm', async () => {
  const { sim } = t;
  const outcome = await asyncMode(() => sim.provision());
  const [replay] = await asyncMode(() => sim.replayProvision(outcome.uuid));
  assert.equal(replay!.status, 202);
  assert.equal(replay!.result, 'provisioning');
  assert.deepEqual(replay!.violations, []);
});

test('an add-on not marked provisioned before the deadline is removed and its token revoked', async () => {
  const { sim, provider, clock } = t;
  const outcome = await asyncMode(() => sim.provision());
  assert.ok(!sim.enforceProvisionDeadlines().some((a) => a.id === outcome.uuid));
  clock.advance(60 * 60 * 1000);
  try {
    assert.ok(sim.enforceProvisionDeadlines().some((a) => a.id === outcome.uuid));
  } finally {
    clock.advance(-60 * 60 * 1000);
  }
  const addon = sim.addon(outcome.uuid)!;
  assert.equal(addon.state, 'deprovisioned');
  assert.match(addon.failure!, /deadline/);
  assert.equal((await provider.api(outcome.uuid, 'POST', `/addons/${outcome.uuid}/actions/provision`)).status, 401);
});

test('the deadline timer fails a forgotten async add-on on its own', async () => {
  const { sim } = t;
  const short = await import('../../../dev/simulator/index.ts').then(({ startHerokuSimulator }) =>
    startHerokuSimulator({
      addon: {
        id: 'big-backup',
        password: 's3cr3t-pass-1234',
        ssoSalt: 'salt',
        baseUrl: t.provider.baseUrl,
        ssoUrl: t.provider.ssoUrl,
      },
      oauthClientSecret: 'oauth-client-secret-for-tests',
      asyncProvisionTimeoutMs: 50,
    }),
  );
  try {
    t.provider.herokuUrl = short.url;
    const outcome = await asyncMode(() => short.provision());
    await new Promise((r) => setTimeout(r, 120));
    assert.equal(short.addon(outcome.uuid)!.state, 'deprovisioned');
  } finally {
    t.provider.herokuUrl = sim.url;
    await short.stop();
  }
});

test('the provider can give up with actions/deprovision, which fails the provision', async () => {
  const { sim, provider } = t;
  const outcome = await asyncMode(() => sim.provision());
  const res = await provider.api(outcome.uuid, 'POST', `/addons/${outcome.uuid}/actions/deprovision`);
  assert.equal(res.status, 200);
  assert.equal(res.body.state, 'deprovisioned');
  assert.ok(sim.addon(outcome.uuid)!.failure);
});
