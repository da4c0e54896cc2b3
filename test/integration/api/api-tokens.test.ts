import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, apiCall, type ApiAuth } from '../../support/stack.ts';
import { signedInResource } from '../../support/factories.ts';

const stack = await startStack();
const { app } = stack;
const db = app.runtime.pool;

const api = (method: string, path: string, options: ApiAuth = {}) => apiCall(app.url, method, path, options);

test('an admin creates a token once-shown, and scripts then act with it until it is revoked', async () => {
  const { uuid, browser } = await signedInResource(stack);
  const csrf = await browser.csrfToken();
  const created = await api('POST', '/tokens', { browser, csrf, body: { name: 'deploy pipeline', role: 'member' } });
  // Once a 403: a late session save after sign-in (fixed by redirect-after-save.ts). The body says which refusal.
  assert.equal(created.status, 201, await created.clone().text());
  const body = (await created.json()) as { id: string; token: string; prefix: string; role: string };
  assert.match(body.token, /^bbk_[A-Za-z0-9_-]{43}$/);
  assert.ok(body.token.startsWith(body.prefix));
  assert.equal(body.role, 'member');

  const stored = await db.query('select token_hash from api_tokens where id = $1', [body.id]);
  assert.notEqual(stored.rows[0].token_hash, body.token, 'only a hash is stored');
  const listed = (await (await api('GET', '/tokens', { browser })).json()) as {
    tokens: Array<Record<string, unknown>>;
  };
  assert.equal(listed.tokens.length, 1);
  assert.equal(listed.tokens[0]!.token, undefined, 'the secret is never listed');

  const me = await api('GET', '/me', { token: body.token });
  assert.equal(me.status, 200);
  assert.deepEqual(
    ((await me.json()) as { resource: { id: string }; actor: { via: string; role: string } }).actor.via,
    'api_token',
  );
  const used = await db.query('select last_used_at from api_tokens where id = $1', [body.id]);
  assert.ok(used.rows[0].last_used_at, 'last use recorded');

  assert.equal((await api('DELETE', `/tokens/${body.id}`, { browser, csrf })).status, 204);
  const refused = await api('GET', '/me', { token: body.token });
  assert.equal(refused.status, 401);
  assert.equal(((await refused.json()) as { code: string }).code, 'invalid_token');
  const audit = await db.query(
    `select action from audit_events where resource_id = $1 and action like 'api_token.%' order by id`,
    [uuid],
  );
  assert.deepEqual(
    audit.rows.map((r) => r.action),
    ['api_token.created', 'api_token.revoked'],
  );
});

test('session-authenticated API writes need the CSRF token; token-authenticated ones do not', async () => {
  const { browser } = await signedInResource(stack);
  const noCsrf = await api('POST', '/tokens', { browser, body: { name: 'x' } });
  assert.equal(noCsrf.status, 403);
  assert.equal(((await noCsrf.json()) as { code: string }).code, 'csrf_failed');
  const csrf = await browser.csrfToken();
  const admin = (await (
    await api('POST', '/tokens', { browser, csrf, body: { name: 'admin script', role: 'admin' } })
  ).json()) as { token: string };
  assert.equal((await api('POST', '/tokens', { token: admin.token, body: { name: 'made by a script' } })).status, 201);
});

test('a member token cannot manage tokens, and bad input is a 422 naming the field', async () => {
  const { browser } = await signedInResource(stack);
  const csrf = await browser.csrfToken();
  const bad = await api('POST', '/tokens', { browser, csrf, body: { name: '', role: 'owner' } });
  assert.equal(bad.status, 422);
  const problem = (await bad.json()) as { code: string; message: string; fields: string[] };
  assert.equal(problem.code, 'invalid_input');
  assert.deepEqual(problem.fields.sort(), ['name', 'role']);
  const member = (await (await api('POST', '/tokens', { browser, csrf, body: { name: 'reader' } })).json()) as {
    token: string;
  };
  const refused = await api('GET', '/tokens', { token: member.token });
  assert.equal(refused.status, 403);
});

test("another resource's token and session cannot revoke or see this resource's tokens", async () => {
  const first = await signedInResource(stack);
  const second = await signedInResource(stack);
  const firstCsrf = await first.browser.csrfToken();
  const target = (await (
    await api('POST', '/tokens', { browser: first.browser, csrf: firstCsrf, body: { name: 'target', role: 'admin' } })
  ).json()) as { id: string; token: string };
  const secondCsrf = await second.browser.csrfToken();
  assert.equal(
    (await api('DELETE', `/tokens/${target.id}`, { browser: second.browser, csrf: secondCsrf })).status,
    404,
  );
  assert.equal((await api('DELETE', '/tokens/not-a-uuid', { browser: second.browser, csrf: secondCsrf })).status, 404);
  const seen = (await (await api('GET', '/tokens', { browser: second.browser })).json()) as { tokens: unknown[] };
  assert.equal(seen.tokens.length, 0);
  assert.equal((await api('GET', '/me', { token: target.token })).status, 200, 'still live');
});

test('the API answers JSON errors for unknown routes and missing credentials', async () => {
  const anonymous = await api('GET', '/me');
  assert.equal(anonymous.status, 401);
  assert.equal(((await anonymous.json()) as { code: string }).code, 'signed_out');
  const malformed = await api('GET', '/me', { token: 'not-ours' });
  assert.equal(malformed.status, 401);
  const { browser } = await signedInResource(stack);
  const missing = await api('GET', '/nothing-here', { browser });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { code: string }).code, 'not_found');
});
