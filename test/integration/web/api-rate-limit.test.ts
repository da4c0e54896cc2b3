import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, Browser, apiCall } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';

// Small limits, passed the way the web process takes them (deps), so the test needs a handful of requests.
const { app, sim } = await startStack({
  rateLimits: {
    apiPerResource: { windowMs: 60_000, limit: 4 },
    apiPerAddress: { windowMs: 60_000, limit: 6 },
    writesPerResource: { windowMs: 60_000, limit: 2 },
    writesPerAddress: { windowMs: 60_000, limit: 3 },
  },
});
const db = app.runtime.pool;

async function signedInAdmin(): Promise<{ uuid: string; browser: Browser; token: string }> {
  const outcome = await sim.provision({ plan: 'standard' });
  assert.equal(outcome.result, 'provisioned');
  await eventually(
    async () => (await db.query('select app_name from resources where id = $1', [outcome.uuid])).rows[0]?.app_name,
    { what: 'app name' },
  );
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(outcome.uuid))).status, 303);
  // A token made outside the limits' view (straight through the page form would count as a write).
  const csrf = await browser.csrfToken();
  const created = await apiCall(app.url, 'POST', '/tokens', {
    browser,
    csrf,
    body: { name: 'ci', role: 'member' },
    ip: `192.0.2.${Math.floor(Math.random() * 200) + 1}`,
  });
  assert.equal(created.status, 201, await created.clone().text());
  await db.query('delete from rate_limit_hits');
  return { uuid: outcome.uuid, browser, token: ((await created.json()) as { token: string }).token };
}

test('the API answers 429 with Retry-After and a rate_limited body past its per-resource limit, whatever the address', async () => {
  const { token } = await signedInAdmin();
  for (let i = 0; i < 4; i++) {
    const ok = await apiCall(app.url, 'GET', '/me', { token, ip: `198.51.100.${i + 1}` });
    assert.equal(ok.status, 200, `request ${i + 1} is within the limit`);
  }
  const limited = await apiCall(app.url, 'GET', '/me', { token, ip: '198.51.100.99' });
  assert.equal(limited.status, 429);
  const retryAfter = Number(limited.headers.get('retry-after'));
  assert.ok(retryAfter > 0 && retryAfter <= 60, `Retry-After in seconds, got ${limited.headers.get('retry-after')}`);
  const body = (await limited.json()) as { code: string; message: string };
  assert.equal(body.code, 'rate_limited');
  assert.match(body.message, /too many/i);

  const other = await signedInAdmin();
  assert.equal(
    (await apiCall(app.url, 'GET', '/me', { token: other.token, ip: '198.51.100.99' })).status,
    200,
    'another resource has its own count',
  );
});

test('the API limits one address across resources and unauthenticated calls, and a forged X-Forwarded-For does not get round it', async () => {
  const first = await signedInAdmin();
  const second = await signedInAdmin();
  const client = '203.0.113.50';
  // As behind Heroku's router, which appends the address it saw to whatever the client sent.
  const calls = [
    () => apiCall(app.url, 'GET', '/me', { token: first.token, ip: client }),
    () => apiCall(app.url, 'GET', '/me', { token: second.token, ip: client }),
    () => apiCall(app.url, 'GET', '/me', { token: 'bbk_guess', ip: client }),
  ];
  for (let i = 0; i < 6; i++) assert.notEqual((await calls[i % 3]!()).status, 429, `request ${i + 1} is not limited`);
  assert.equal((await apiCall(app.url, 'GET', '/me', { token: first.token, ip: client })).status, 429);
  assert.equal(
    (await apiCall(app.url, 'GET', '/me', { token: second.token, ip: `10.9.8.7, ${client}` })).status,
    429,
    'a forged X-Forwarded-For entry does not get round it',
  );
  assert.equal((await apiCall(app.url, 'GET', '/me', { token: second.token, ip: '203.0.113.51' })).status, 200);
});

test('dashboard forms answer 429 with Retry-After and a readable page past the per-resource write limit, and change nothing', async () => {
  const { uuid, browser } = await signedInAdmin();
  const csrf = await browser.csrfToken();
  const save = (minute: string, ip: string) =>
    browser.request('POST', '/settings/schedule', {
      form: { frequency: 'daily', hour: '3', minute, timeZone: 'UTC', _csrf: csrf },
      headers: { origin: new URL(app.url).origin, 'sec-fetch-site': 'same-origin', 'x-forwarded-for': ip },
    });
  assert.equal((await save('10', '198.51.100.20')).status, 303);
  assert.equal((await save('20', '198.51.100.21')).status, 303);
  const limited = await save('30', '198.51.100.22');
  assert.equal(limited.status, 429);
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
  assert.match(limited.headers.get('content-type') ?? '', /text\/html/);
  assert.match(await limited.text(), /Too many changes/);
  const stored = await db.query('select minute from backup_schedules where resource_id = $1', [uuid]);
  assert.equal(stored.rows[0]?.minute, 20, 'the limited request changed nothing');
  assert.equal((await browser.request('GET', '/settings')).status, 200, 'pages still show');
});

test('dashboard writes are limited per address across resources', async () => {
  const client = '203.0.113.80';
  const people = [await signedInAdmin(), await signedInAdmin()];
  const capture = async (browser: Browser) => {
    const csrf = await browser.csrfToken();
    return browser.request('POST', '/settings/schedule/remove', {
      form: { _csrf: csrf },
      headers: { origin: new URL(app.url).origin, 'sec-fetch-site': 'same-origin', 'x-forwarded-for': client },
    });
  };
  assert.equal((await capture(people[0]!.browser)).status, 303);
  assert.equal((await capture(people[1]!.browser)).status, 303);
  assert.equal((await capture(people[0]!.browser)).status, 303);
  assert.equal((await capture(people[1]!.browser)).status, 429, 'the fourth write from one address');
});
