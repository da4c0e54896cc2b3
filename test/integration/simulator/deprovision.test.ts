import test from 'node:test';
import assert from 'node:assert/strict';
import { SECRETS } from './support/contract-provider.ts';
import { useSimulator } from './support/harness.ts';

const t = useSimulator();

test('deprovision revokes the authorization, removes the config vars and makes a release', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'gone-app' });
  const app = sim.app('gone-app')!;
  const releases = app.releases.length;
  const held = provider.resources.get(uuid)!.tokens!;

  const outcome = await sim.deprovision(uuid);
  assert.equal(outcome.status, 204);
  assert.equal(outcome.result, 'deprovisioned');
  assert.deepEqual(outcome.violations, []);
  assert.equal(outcome.call.method, 'DELETE');
  assert.equal(outcome.call.url, `${provider.baseUrl}/${uuid}`);
  assert.equal(sim.addon(uuid)!.state, 'deprovisioned');
  assert.deepEqual(app.configVars, {});
  assert.equal(app.releases.length, releases + 1);

  const api = await provider.api(uuid, 'GET', `/addons/${uuid}`, { token: held.access });
  assert.equal(api.status, 401);
  const refresh = await provider.token({
    grant_type: 'refresh_token',
    refresh_token: held.refresh,
    client_secret: SECRETS.clientSecret,
  });
  assert.equal(refresh.status, 400);
  assert.equal(refresh.body.id, 'invalid_grant');
});

test('a repeated deprovision is fine when the provider answers 2xx again', async () => {
  const { sim } = t;
  const { uuid } = await sim.provision();
  await sim.deprovision(uuid);
  const again = await sim.deprovision(uuid);
  assert.equal(again.result, 'deprovisioned');
  assert.deepEqual(again.violations, []);
});

test('a repeated deprovision answered 404 is reported as not idempotent', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  await sim.deprovision(uuid);
  provider.override = (req, res) => {
    if (req.method !== 'DELETE') return false;
    res.status(404).json({ message: 'no such resource' });
    return true;
  };
  try {
    const again = await sim.deprovision(uuid);
    assert.equal(again.result, 'failed');
    assert.deepEqual(
      again.violations.map((v) => v.kind),
      ['replay-not-idempotent'],
    );
  } finally {
    provider.override = null;
  }
});

test('revoking an authorization by hand makes its tokens 401 and its refresh fail', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  const held = provider.resources.get(uuid)!.tokens!;
  sim.faults.revokeAuthorization(uuid);
  assert.equal((await provider.api(uuid, 'GET', `/addons/${uuid}`)).status, 401);
  assert.equal(
    (
      await provider.token({
        grant_type: 'refresh_token',
        refresh_token: held.refresh,
        client_secret: SECRETS.clientSecret,
      })
    ).status,
    400,
  );
  assert.equal(sim.log.apiRequests({ addonId: uuid }).at(-1)!.auth.tokenState, 'revoked');
});

test('a 202 deprovision waits for actions/deprovision and is reported unless async deprovisioning is enabled', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision();
  provider.override = (req, res) => {
    if (req.method !== 'DELETE') return false;
    res.status(202).json({ message: 'cleaning up' });
    return true;
  };
  try {
    const allowed = await sim.deprovision(uuid, { allowAsync: true });
    assert.equal(allowed.result, 'pending');
    assert.deepEqual(allowed.violations, []);
    assert.equal(sim.addon(uuid)!.state, 'provisioned');
    assert.equal(sim.addon(uuid)!.pendingDeprovision, true);
    const finished = await provider.api(uuid, 'POST', `/addons/${uuid}/actions/deprovision`);
    assert.equal(finished.body.state, 'deprovisioned');
    assert.equal(sim.addon(uuid)!.failure, null);

    const other = await sim.provision();
    const notAllowed = await sim.deprovision(other.uuid);
    assert.deepEqual(
      notAllowed.violations.map((v) => v.kind),
      ['async-deprovision-not-enabled'],
    );
  } finally {
    provider.override = null;
  }
});

test('plan change sends PUT {plan} and applies the answer; 422 is a refusal', async () => {
  const { sim, provider } = t;
  const { uuid } = await sim.provision({ app: 'plan-app', plan: 'basic' });
  const app = sim.app('plan-app')!;
  const releases = app.releases.length;
  const changed = await sim.changePlan(uuid, 'premium');
  assert.equal(changed.call.method, 'PUT');
  assert.equal(changed.call.url, `${provider.baseUrl}/${uuid}`);
  assert.deepEqual(JSON.parse(changed.call.requestBody!), { plan: 'premium' });
  assert.equal(changed.result, 'changed');
  assert.equal(changed.message, 'Now on premium.');
  assert.equal(sim.addon(uuid)!.plan, 'premium');
  assert.equal(app.configVars.BIG_BACKUP_URL, `${provider.url}/r/${uuid}?plan=premium`);
  assert.equal(app.releases.length, releases + 1);

  const refused = await sim.changePlan(uuid, 'tiny');
  assert.equal(refused.status, 422);
  assert.equal(refused.result, 'refused');
  assert.equal(refused.message, 'Retention exceeds the tiny plan.');
  assert.equal(sim.addon(uuid)!.plan, 'premium');
});
