import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, Browser } from '../../support/stack.ts';
import { freePort } from '../../../dev/db/local-cluster.ts';

// Heroku's router terminates TLS and says so in X-Forwarded-Proto; we trust exactly that one hop.
const { app, sim } = await startStack({ env: { PUBLIC_URL: `https://127.0.0.1:${await freePort()}` } });

test('behind TLS, sets a __Host- session cookie that is Secure, HttpOnly and SameSite=Lax', async () => {
  const { uuid } = await sim.provision();
  const browser = new Browser(app.url);
  const form = sim.ssoForm(uuid);
  const response = await browser.request('POST', '/sso/login', {
    form: form.params,
    headers: { 'x-forwarded-proto': 'https', origin: 'https://dashboard.heroku.com' },
  });
  assert.equal(response.status, 303);
  const cookie = response.headers.getSetCookie().find((c) => c.startsWith('__Host-big-backup.sid='));
  assert.ok(cookie, 'prefixed cookie');
  for (const attribute of [/; Secure/i, /; HttpOnly/i, /; SameSite=Lax/i, /; Path=\//i])
    assert.match(cookie, attribute);
  assert.doesNotMatch(cookie, /Domain=/i);
});

test('behind TLS, sends HSTS and a strict content security policy', async () => {
  const response = await fetch(`${app.url}/`, { headers: { 'x-forwarded-proto': 'https' } });
  assert.match(response.headers.get('strict-transport-security') ?? '', /max-age=31536000/);
  const csp = response.headers.get('content-security-policy') ?? '';
  for (const directive of ["frame-ancestors 'none'", "object-src 'none'", "base-uri 'none'"])
    assert.ok(csp.includes(directive), directive);
  assert.equal(response.headers.get('x-content-type-options'), 'nosniff');
});

test('over plain HTTP, sets no session cookie rather than an insecure one', async () => {
  const { uuid } = await sim.provision();
  const response = await new Browser(app.url).request('POST', '/sso/login', {
    form: sim.ssoForm(uuid).params,
    headers: { 'x-forwarded-proto': 'http', origin: 'https://dashboard.heroku.com' },
  });
  // Over plain HTTP a Secure cookie cannot be set, so express-session sets none rather than an insecure one.
  assert.equal(
    response.headers.getSetCookie().some((c) => c.includes('big-backup.sid')),
    false,
  );
});
