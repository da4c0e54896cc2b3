import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { startHerokuSimulator } from '../../../dev/simulator/index.ts';
import { freePort } from '../../../dev/db/local-cluster.ts';
import { createTestDatabase } from '../../support/database.ts';
import { testSecrets, eventually } from '../../support/app.ts';
import { runNpm, waitForHttp } from '../../support/child-process.ts';
import { Browser } from '../../support/stack.ts';

// The provider as an operator runs it: `npm start` with the documented configuration names only,
// driven from outside by the Heroku simulator. Nothing here imports the provider's code.
const secrets = testSecrets();
const port = await freePort();
const baseUrl = `http://127.0.0.1:${port}`;
const sim = await startHerokuSimulator({
  addon: {
    id: 'big-backup',
    password: secrets.HEROKU_ADDON_PASSWORD,
    ssoSalt: secrets.HEROKU_SSO_SALT,
    baseUrl: `${baseUrl}/heroku/resources`,
    ssoUrl: `${baseUrl}/sso/login`,
  },
  oauthClientSecret: secrets.HEROKU_OAUTH_CLIENT_SECRET,
});
test.after(() => sim.stop());
const archives = mkdtempSync(path.join(os.tmpdir(), 'bb-blackbox-archives-'));
const server = runNpm(['start'], {
  PORT: String(port),
  DATABASE_URL: await createTestDatabase('blackbox'),
  PUBLIC_URL: baseUrl,
  HEROKU_API_URL: sim.url,
  HEROKU_OAUTH_URL: sim.url,
  ...secrets,
  STORAGE_URL: pathToFileURL(archives).toString(),
});
test.after(async () => {
  await server.stop();
  rmSync(archives, { recursive: true, force: true });
});
await waitForHttp(`${baseUrl}/healthz`, server);

test('refuses wrong credentials on every Partner API route with 401', async () => {
  for (const [method, path] of [
    ['POST', ''],
    ['PUT', `/${crypto.randomUUID()}`],
    ['DELETE', `/${crypto.randomUUID()}`],
  ] as const) {
    const { call } = await sim.sendToProvider({ method, path, auth: 'wrong', body: { plan: 'basic' } });
    assert.equal(call.status, 401, method);
  }
});

test('passes the whole contract: provision, grant, SSO, plan change, deprovision', async () => {
  const provisioned = await sim.provision({ plan: 'basic', options: { database: 'HEROKU_POSTGRESQL_RED' } });
  assert.equal(provisioned.result, 'provisioned');
  assert.equal(provisioned.body && (provisioned.body as { id: string }).id, provisioned.uuid);
  const replays = await sim.replayProvision(provisioned.uuid, { times: 3, concurrent: true });
  for (const replay of replays) assert.equal(replay.status, 200);

  await eventually(
    async () =>
      sim.log
        .tokenRequests({ addonId: provisioned.uuid, grantType: 'authorization_code' })
        .some((r) => r.status === 200),
    { what: 'grant exchange' },
  );
  await eventually(
    async () =>
      sim.log
        .apiRequests({ addonId: provisioned.uuid })
        .some((r) => r.path === `/addons/${provisioned.uuid}` && r.status === 200),
    { what: 'add-on lookup' },
  );

  const browser = new Browser(baseUrl);
  assert.equal((await browser.signIn(sim.ssoForm(provisioned.uuid))).status, 303);
  const dashboard = await browser.request('GET', '/dashboard');
  assert.equal(dashboard.status, 200);
  assert.ok((await dashboard.text()).includes(sim.app(provisioned.addon.appId)!.name));
  assert.equal((await new Browser(baseUrl).signIn(sim.ssoForm(provisioned.uuid, { variant: 'stale' }))).status, 403);
  assert.equal(
    (await new Browser(baseUrl).signIn(sim.ssoForm(provisioned.uuid, { variant: 'wrong-length' }))).status,
    403,
  );

  const planChange = await sim.changePlan(provisioned.uuid, 'standard');
  assert.equal(planChange.result, 'changed');
  const refused = await sim.changePlan(provisioned.uuid, 'platinum');
  assert.equal(refused.result, 'refused');
  assert.equal(refused.status, 422);

  const gone = await sim.deprovision(provisioned.uuid);
  assert.equal(gone.result, 'deprovisioned');
  assert.equal((await sim.deprovision(provisioned.uuid)).result, 'deprovisioned');
  assert.equal(
    (await new Browser(baseUrl).signIn(sim.ssoForm(provisioned.uuid, { timestamp: Math.floor(Date.now() / 1000) - 1 })))
      .status,
    403,
  );
  assert.deepEqual(sim.log.violations, []);
});

test('prints no secret to its output', async () => {
  const output = server.output();
  assert.ok(output.includes('web listening'));
  for (const secret of Object.values(secrets)) assert.ok(!output.includes(secret));
  assert.ok(!output.includes('HRKU-'));
});

test('stops cleanly on SIGTERM', async () => {
  // npm itself dies by the signal; what matters is that our process shut down in order.
  await server.stop();
  assert.match(server.output(), /"msg":"shutting down"/);
  assert.doesNotMatch(server.output(), /shutdown failed/);
});
