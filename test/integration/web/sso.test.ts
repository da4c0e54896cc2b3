import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, Browser } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { provisionedResource, signedInBrowser } from '../../support/factories.ts';

const stack = await startStack();
const { app, sim } = stack;
const db = app.runtime.pool;

describe('a valid sign-on', () => {
  test('redirects to the dashboard with an HttpOnly, SameSite=Lax session cookie', async () => {
    const { uuid } = await provisionedResource(stack);
    const browser = new Browser(app.url);
    const response = await browser.signIn(sim.ssoForm(uuid));
    assert.equal(response.status, 303);
    assert.equal(response.headers.get('location'), '/dashboard');
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('big-backup.sid='));
    assert.ok(cookie, 'session cookie set');
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
  });

  test('shows the resource on the dashboard: app, plan, state, and no backups yet', async () => {
    const { uuid, addon } = await provisionedResource(stack, { plan: 'premium' });
    const browser = await signedInBrowser(stack, uuid);
    const page = await browser.request('GET', '/dashboard');
    assert.equal(page.status, 200);
    const html = await page.text();
    assert.ok(html.includes(sim.app(addon.appId)!.name), 'app name');
    assert.match(html, /Premium/);
    assert.match(html, /provisioned/);
    assert.match(html, /No backups exist yet/);
  });

  test('makes the first user admin and later users members, remembered per user', async () => {
    const { uuid } = await provisionedResource(stack);
    const first = new Browser(app.url);
    await first.signIn(sim.ssoForm(uuid, { user: 'owner-' + uuid.slice(0, 6) + '@example.com' }));
    assert.match(await (await first.request('GET', '/dashboard')).text(), /· admin/, 'first');
    const second = new Browser(app.url);
    await second.signIn(sim.ssoForm(uuid, { user: 'colleague-' + uuid.slice(0, 6) + '@example.com' }));
    assert.match(await (await second.request('GET', '/dashboard')).text(), /· member/, 'second');
    const again = new Browser(app.url);
    // A second click a moment later: a new timestamp, so not a replay of the first form.
    await again.signIn(
      sim.ssoForm(uuid, {
        user: 'owner-' + uuid.slice(0, 6) + '@example.com',
        timestamp: Math.floor(Date.now() / 1000) - 2,
      }),
    );
    assert.match(await (await again.request('GET', '/dashboard')).text(), /· admin/, 'again');
  });

  test('gives exactly one admin when two first users sign in at the same moment', async () => {
    const { uuid } = await provisionedResource(stack);
    await Promise.all(
      [1, 2, 3].map((n) =>
        new Browser(app.url).signIn(sim.ssoForm(uuid, { user: `racer${n}-${uuid.slice(0, 6)}@example.com` })),
      ),
    );
    const roles = await db.query(
      `select role, count(*)::int as n from resource_users where resource_id = $1 group by role`,
      [uuid],
    );
    assert.deepEqual(Object.fromEntries(roles.rows.map((r) => [r.role, r.n])), { admin: 1, member: 2 });
  });

  test('issues a new session id at sign-in, and the old session no longer works', async () => {
    const { uuid } = await provisionedResource(stack);
    const browser = await signedInBrowser(stack, uuid);
    const before = browser.cookies.get('big-backup.sid');
    await browser.signIn(sim.ssoForm(uuid, { user: 'second-' + uuid.slice(0, 6) + '@example.com' }));
    const afterLogin = browser.cookies.get('big-backup.sid');
    assert.ok(before && afterLogin && before !== afterLogin, 'session id changed');
    const stale = new Browser(app.url);
    stale.cookies.set('big-backup.sid', before);
    assert.equal((await stale.request('GET', '/dashboard')).status, 401);
  });

  test('accepts a form with the user-scoped token only', async () => {
    const { uuid } = await provisionedResource(stack);
    const response = await new Browser(app.url).signIn(sim.ssoForm(uuid, { variant: 'user-scoped-only' }));
    assert.equal(response.status, 303);
  });

  test('records the sign-in in the audit log', async () => {
    const { uuid } = await provisionedResource(stack);
    await new Browser(app.url).signIn(sim.ssoForm(uuid));
    const events = await db.query(`select action from audit_events where resource_id = $1`, [uuid]);
    assert.ok(events.rows.some((e) => e.action === 'user.signed_in'));
  });
});

describe('a refused sign-on', () => {
  for (const variant of ['bad-token', 'malformed', 'wrong-length', 'stale', 'future', 'other-resource'] as const) {
    test(`answers 403, not 500, for a ${variant} token and sets no session`, async () => {
      const { uuid } = await provisionedResource(stack);
      const browser = new Browser(app.url);
      const response = await browser.signIn(sim.ssoForm(uuid, { variant }));
      assert.equal(response.status, 403);
      assert.match(await response.text(), /invalid or has expired/);
      assert.equal(browser.cookies.has('big-backup.sid'), false);
    });
  }

  test('refuses a replay of a form that already signed someone in, whatever the case of its token', async () => {
    const { uuid } = await provisionedResource(stack);
    const form = sim.ssoForm(uuid);
    assert.equal((await new Browser(app.url).signIn(form)).status, 303);
    assert.equal((await new Browser(app.url).signIn(form)).status, 403);
    const shouted = {
      ...form,
      params: { ...form.params, user_scoped_resource_token: form.params.user_scoped_resource_token!.toUpperCase() },
    };
    assert.equal((await new Browser(app.url).signIn(shouted)).status, 403);
  });

  test('refuses a form with the resource token only, so a member cannot name the admin and sign in as them', async () => {
    const { uuid } = await provisionedResource(stack);
    const owner = sim.ssoForm(uuid).params;
    assert.equal(
      (await new Browser(app.url).signIn(sim.ssoForm(uuid))).status,
      303,
      'the owner signs in first and is the admin',
    );
    const member = sim.ssoForm(uuid, {
      user: `member-${uuid.slice(0, 6)}@example.com`,
      variant: 'resource-token-only',
    });
    const asOwner = { ...member, params: { ...member.params, user_id: owner.user_id!, email: owner.email! } };
    const browser = new Browser(app.url);
    assert.equal((await browser.signIn(asOwner)).status, 403);
    assert.equal(browser.cookies.has('big-backup.sid'), false);
    assert.equal((await new Browser(app.url).signIn(member)).status, 403, 'nor as themselves');
  });

  test('refuses GET', async () => {
    const { uuid } = await provisionedResource(stack);
    const query = new URLSearchParams(sim.ssoForm(uuid).params).toString();
    const response = await new Browser(app.url).request('GET', `/sso/login?${query}`);
    assert.equal(response.status, 405);
  });

  test('refuses an unknown resource', async () => {
    const form = sim.ssoForm((await provisionedResource(stack)).uuid);
    const other = { ...form, params: { ...form.params, resource_id: crypto.randomUUID() } };
    assert.equal((await new Browser(app.url).signIn(other)).status, 403);
  });

  test('refuses garbage bodies with 403', async () => {
    for (const body of ['', 'resource_id=x', 'timestamp=1&resource_token=%00%00', 'a'.repeat(10_000)]) {
      const response = await fetch(`${app.url}/sso/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        redirect: 'manual',
      });
      assert.equal(response.status, 403, body.slice(0, 20));
    }
  });
});

describe('deprovision', () => {
  test("ends existing sessions and refuses new sign-ons, then purges the resource's data", async () => {
    const { uuid } = await provisionedResource(stack);
    const browser = await signedInBrowser(stack, uuid);
    assert.equal((await browser.request('GET', '/dashboard')).status, 200);
    const form = sim.ssoForm(uuid, { user: 'late-' + uuid.slice(0, 6) + '@example.com' });
    const outcome = await sim.deprovision(uuid);
    assert.equal(outcome.result, 'deprovisioned');
    assert.deepEqual(outcome.violations, []);
    assert.equal((await browser.request('GET', '/dashboard')).status, 401);
    assert.equal((await new Browser(app.url).signIn(form)).status, 403);
    await eventually(
      async () => (await db.query('select purged_at from resources where id = $1', [uuid])).rows[0].purged_at,
      { what: 'purge' },
    );
    const users = await db.query('select count(*)::int as n from resource_users where resource_id = $1', [uuid]);
    assert.equal(users.rows[0].n, 0);
    const auth = await db.query(
      'select access_token_ciphertext, refresh_token_ciphertext, status from heroku_authorizations where resource_id = $1',
      [uuid],
    );
    assert.deepEqual(auth.rows[0], {
      access_token_ciphertext: null,
      refresh_token_ciphertext: null,
      status: 'revoked',
    });
    const again = await sim.deprovision(uuid);
    assert.equal(again.result, 'deprovisioned');
  });
});

test('sign-out destroys the session server-side', async () => {
  const { uuid } = await provisionedResource(stack);
  const browser = await signedInBrowser(stack, uuid);
  const sid = browser.cookies.get('big-backup.sid')!;
  const out = await browser.submit('/logout');
  assert.equal(out.status, 200);
  const replay = new Browser(app.url);
  replay.cookies.set('big-backup.sid', sid);
  assert.equal((await replay.request('GET', '/dashboard')).status, 401);
});

test('refuses a cross-site sign-out post, and a same-origin one without the CSRF token', async () => {
  const { uuid } = await provisionedResource(stack);
  const browser = await signedInBrowser(stack, uuid);
  const _csrf = await browser.csrfToken();
  assert.equal(
    (await browser.request('POST', '/logout', { form: { _csrf }, headers: { origin: 'https://evil.example' } })).status,
    403,
  );
  assert.equal((await browser.request('POST', '/logout', { headers: { origin: app.config.PUBLIC_URL } })).status, 403);
  assert.equal(
    (
      await browser.request('POST', '/logout', {
        form: { _csrf: _csrf.slice(1) + 'x' },
        headers: { origin: app.config.PUBLIC_URL },
      })
    ).status,
    403,
  );
  assert.equal((await browser.request('GET', '/dashboard')).status, 200);
});

test('never logs SSO tokens, the salt or session ids', async () => {
  const { uuid } = await provisionedResource(stack);
  const form = sim.ssoForm(uuid);
  const browser = new Browser(app.url);
  await browser.signIn(form);
  const logs = app.logs.text();
  for (const secret of [
    form.params.resource_token!,
    form.params.user_scoped_resource_token!,
    app.config.HEROKU_SSO_SALT,
    browser.cookies.get('big-backup.sid')!,
  ]) {
    assert.ok(!logs.includes(secret));
  }
});
