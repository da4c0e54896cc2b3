import test from 'node:test';
import assert from 'node:assert/strict';
import { useSimulator } from './support/harness.ts';

const t = useSimulator();

test('the console provisions a demo add-on and links to its SSO page', async () => {
  const { sim } = t;
  const empty = await (await fetch(`${sim.url}/`)).text();
  assert.match(empty, /Provision a demo add-on/);

  const res = await fetch(`${sim.url}/_sim/provision`, {
    method: 'POST',
    redirect: 'manual',
    body: new URLSearchParams({ app: 'demo-app', plan: 'basic', database: 'DATABASE' }),
  });
  assert.equal(res.status, 303);
  assert.match(decodeURIComponent(res.headers.get('location')!), /Provision of big-backup-.*: 200 → provisioned/);
  const addon = [...sim.state.addons.values()].find((a) => sim.state.apps.get(a.appId)!.name === 'demo-app')!;
  assert.deepEqual(addon.options, { database: 'DATABASE' });

  const page = await (await fetch(`${sim.url}${res.headers.get('location')}`)).text();
  assert.match(page, /App demo-app/);
  assert.match(page, new RegExp(`href="/sso/${addon.id}"[^>]*><button type="button">Open dashboard \\(SSO\\)`));
  assert.match(page, /Provision of big-backup-/);
});

test('the console changes plans and deprovisions through the add-on manager', async () => {
  const { sim } = t;
  const { uuid } = await sim.provision({ app: 'console-app' });
  const plan = await fetch(`${sim.url}/_sim/addons/${uuid}/plan`, {
    method: 'POST',
    redirect: 'manual',
    body: new URLSearchParams({ plan: 'premium' }),
  });
  assert.equal(plan.status, 303);
  assert.equal(sim.addon(uuid)!.plan, 'premium');
  const gone = await fetch(`${sim.url}/_sim/addons/${uuid}/deprovision`, { method: 'POST', redirect: 'manual' });
  assert.equal(gone.status, 303);
  assert.equal(sim.addon(uuid)!.state, 'deprovisioned');
});

test('the console escapes what it shows', async () => {
  const { sim } = t;
  const html = await (await fetch(`${sim.url}/?flash=${encodeURIComponent('<script>alert(1)</script>')}`)).text();
  assert.ok(!html.includes('<script>alert(1)</script>'));
  assert.match(html, /&lt;script&gt;/);
});

test('state and log are available as JSON without refresh tokens', async () => {
  const { sim } = t;
  await sim.provision();
  const state = (await (await fetch(`${sim.url}/_sim/state`)).json()) as { authorizations: Record<string, unknown>[] };
  assert.ok(state.authorizations.length > 0);
  assert.ok(state.authorizations.every((a) => !('refreshToken' in a)));
  const log = (await (await fetch(`${sim.url}/_sim/log`)).json()) as { providerCalls: unknown[] };
  assert.ok(log.providerCalls.length > 0);
});
