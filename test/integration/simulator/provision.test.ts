import test from 'node:test';
import assert from 'node:assert/strict';
import { SECRETS } from './support/contract-provider.ts';
import { useSimulator } from './support/harness.ts';

const t = useSimulator();

test('provision sends Basic auth with the manifest id and password, the v3 Accept header and the v3 body', async () => {
  const { sim, provider } = t;
  const outcome = await sim.provision({
    app: 'acme',
    plan: 'standard',
    options: { database: 'HEROKU_POSTGRESQL_RED' },
  });
  const call = outcome.call;
  assert.equal(call.method, 'POST');
  assert.equal(call.url, provider.baseUrl);
  assert.equal(
    call.requestHeaders.Authorization,
    'Basic ' + Buffer.from(`${SECRETS.addonId}:${SECRETS.password}`).toString('base64'),
  );
  assert.equal(call.requestHeaders.Accept, 'application/vnd.heroku-addons+json; version=3');
  assert.equal(call.requestHeaders['Content-Type'], 'application/json');

  const body = JSON.parse(call.requestBody!);
  assert.deepEqual(Object.keys(body).sort(), [
    'callback_url',
    'log_input_url',
    'name',
    'oauth_grant',
    'options',
    'plan',
    'region',
    'uuid',
  ]);
  assert.equal(body.uuid, outcome.uuid);
  assert.match(body.name, /^big-backup-[a-z]+-\d{5}$/);
  assert.equal(body.plan, 'standard');
  assert.equal(body.region, 'amazon-web-services::us-east-1');
  assert.equal(body.callback_url, `${sim.url}/addons/${outcome.uuid}`);
  assert.deepEqual(body.options, { database: 'HEROKU_POSTGRESQL_RED' });
  assert.equal(body.oauth_grant.type, 'authorization_code');
  assert.equal(body.oauth_grant.code, outcome.grantCode);
  assert.match(body.oauth_grant.expires_at, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0000$/);
  assert.equal(Date.parse(body.oauth_grant.expires_at), Math.floor((t.clock.now() + 300_000) / 1000) * 1000);
  assert.ok(provider.received.some((r) => r.method === 'POST' && (r.body as { uuid: string }).uuid === outcome.uuid));
});

test('a 200 answer provisions the add-on, puts its config on the app and makes one release', async () => {
  const { sim, provider } = t;
  const app = sim.createApp({ name: 'sync-app' });
  const releasesBefore = app.releases.length;
  const outcome = await sim.provision({ app: 'sync-app' });
  assert.equal(outcome.status, 200);
  assert.equal(outcome.result, 'provisioned');
  assert.deepEqual(outcome.violations, []);
  assert.equal(outcome.addon.state, 'provisioned');
  assert.equal(outcome.addon.providerId, outcome.uuid);
  assert.equal(outcome.addon.message, 'big-backup is ready.');
  assert.deepEqual(app.configVars, { BIG_BACKUP_URL: `${provider.url}/r/${outcome.uuid}` });
  assert.equal(app.releases.length, releasesBefore + 1);
  assert.equal((outcome.body as { id: string }).id, outcome.uuid);
});

test('creates the app with an owner and collaborators when it does not exist', async () => {
  const { sim } = t;
  await sim.provision({
    app: { name: 'team-app', owner: 'boss@example.com', collaborators: ['dev@example.com'] },
    region: 'eu',
  });
  const app = sim.app('team-app')!;
  const emails = app.collaboratorIds.map((id) => sim.state.users.get(id)!.email);
  assert.deepEqual(emails, ['boss@example.com', 'dev@example.com']);
  assert.equal(sim.state.users.get(app.ownerId)!.email, 'boss@example.com');
  assert.equal(app.region, 'eu');
});

test('a second add-on on the same app gets its own attachment name and config var', async () => {
  const { sim } = t;
  await sim.provision({ app: 'two-addons' });
  await sim.provision({ app: 'two-addons' });
  assert.deepEqual(Object.keys(sim.app('two-addons')!.configVars).sort(), ['BIG_BACKUP_2_URL', 'BIG_BACKUP_URL']);
});

test('replaying a provision sequentially and concurrently returns the same id and makes no second resource', async () => {
  const { sim, provider } = t;
  const first = await sim.provision({ app: 'replay-app' });
  const releases = sim.app('replay-app')!.releases.length;
  const sequential = await sim.replayProvision(first.uuid, { times: 2 });
  const concurrent = await sim.replayProvision(first.uuid, { times: 5, concurrent: true });
  for (const outcome of [...sequential, ...concurrent]) {
    assert.equal(outcome.status, 200);
    assert.equal(outcome.replay, true);
    assert.equal((outcome.body as { id: string }).id, first.uuid);
    assert.deepEqual(outcome.requestBody, first.requestBody);
  }
  assert.equal([...provider.resources.keys()].filter((id) => id === first.uuid).length, 1);
  assert.equal(sim.app('replay-app')!.releases.length, releases, 'identical config makes no new release');
  assert.deepEqual(
    sim.log.violations.filter((v) => v.addonId === first.uuid),
    [],
  );
});

test('identical first-time provisions sent at once all get the same answer', async () => {
  const { sim } = t;
  const outcomes = await sim.provisionConcurrently({ app: 'race-app' }, 4);
  assert.deepEqual(
    outcomes.map((o) => o.status),
    [200, 200, 200, 200],
  );
  assert.equal(new Set(outcomes.map((o) => o.uuid)).size, 1);
  assert.equal(sim.addon(outcomes[0]!.uuid)!.state, 'provisioned');
  assert.equal(sim.log.tokenRequests({ addonId: outcomes[0]!.uuid, grantType: 'authorization_code' }).length, 1);
});

test('a provider that answers a replay with a different id is reported', async () => {
  const { sim, provider } = t;
  const first = await sim.provision();
  provider.override = (req, res) => {
    if (req.method !== 'POST') return false;
    res.json({ id: 'something-else', config: {} });
    return true;
  };
  try {
    const [replay] = await sim.replayProvision(first.uuid);
    assert.deepEqual(
      replay!.violations.map((v) => v.kind),
      ['replay-not-idempotent'],
    );
  } finally {
    provider.override = null;
  }
});

test('the raw sender can use wrong credentials, no credentials or an arbitrary body', async () => {
  const { sim } = t;
  const wrong = await sim.sendToProvider({ method: 'POST', body: { uuid: 'x', plan: 'basic' }, auth: 'wrong' });
  assert.equal(wrong.call.status, 401);
  assert.equal(wrong.call.requestHeaders.Authorization, 'Basic ' + Buffer.from('wrong:secret').toString('base64'));
  const none = await sim.sendToProvider({ method: 'DELETE', path: '/whatever', auth: 'none' });
  assert.equal(none.call.status, 401);
  assert.equal(none.call.requestHeaders.Authorization, undefined);
  const junk = await sim.sendToProvider({ method: 'POST', body: { hello: 'world' } });
  assert.equal(junk.call.status, 422);
  assert.deepEqual(junk.violations, []);
  assert.equal(junk.call.operation, 'raw');
});

test('extra undocumented fields and log fields are sent when asked for', async () => {
  const { sim } = t;
  const outcome = await sim.provision({
    grant: false,
    logInput: true,
    syslogDrain: true,
    extraFields: { future_field: { a: 1 } },
  });
  const body = outcome.requestBody;
  assert.equal(body.oauth_grant, null);
  assert.equal(
    body.log_input_url,
    `${sim.url.replace('http://', 'http://token:t.' + outcome.uuid + '@')}/logplex/logs`,
  );
  assert.equal(body.log_drain_token, `d.${outcome.uuid}`);
  assert.deepEqual(body.future_field, { a: 1 });
  assert.equal(outcome.result, 'provisioned');
});
