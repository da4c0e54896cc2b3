import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import { startStack, Browser, apiCall } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { SESSION_ABSOLUTE_MS, SESSION_IDLE_MS } from '../../../src/http/sso/session.ts';

// The matrix posts to every route several times a minute: far past the production write limits,
// which are tested on their own (api-rate-limit.test.ts), so they are raised here.
const unlimited = { windowMs: 60_000, limit: 100_000 };
const { app, sim } = await startStack({
  worker: false,
  rateLimits: {
    apiPerResource: unlimited,
    apiPerAddress: unlimited,
    writesPerResource: unlimited,
    writesPerAddress: unlimited,
  },
});
const db = app.runtime.pool;

async function signedIn(): Promise<{ browser: Browser; uuid: string }> {
  const { uuid, result } = await sim.provision({ plan: 'standard' });
  assert.equal(result, 'provisioned');
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(uuid))).status, 303);
  assert.equal((await browser.request('GET', '/dashboard')).status, 200);
  return { browser, uuid };
}

/** The session row's id from the browser's cookie (`s:<sid>.<signature>`). */
function sessionId(browser: Browser): string {
  const value = [...browser.cookies.values()].map((v) => decodeURIComponent(v)).find((v) => v.startsWith('s:'));
  assert.ok(value, 'a session cookie');
  return value.slice(2, value.lastIndexOf('.'));
}

// The forgery matrix's signed-in member and API token (below), made before the first test is registered:
// see test/unit/test-file-setup.test.ts.
const { browser, uuid } = await signedIn();
const csrf = await browser.csrfToken();
const created = await apiCall(app.url, 'POST', '/tokens', { browser, csrf, body: { name: 'ci', role: 'member' } });
assert.equal(created.status, 201, 'the harness can change something with the right token and origin');
const tokenId = ((await created.json()) as { id: string }).id;

describe('session lifetime', () => {
  test('an idle session ends an hour after its last request, and lives until then', async () => {
    const { browser } = await signedIn();
    const sid = sessionId(browser);
    // The store's expiry is the last request plus the idle limit: backdating it is backdating the last request.
    const { rows } = await db.query<{ left_ms: number }>(
      `select extract(epoch from (expire - localtimestamp)) * 1000 as left_ms from sessions where sid = $1`,
      [sid],
    );
    assert.ok(Math.abs(Number(rows[0]!.left_ms) - SESSION_IDLE_MS) < 60_000, `expiry is about an hour away`);

    await db.query(`update sessions set expire = localtimestamp + interval '1 minute' where sid = $1`, [sid]);
    assert.equal((await browser.request('GET', '/dashboard')).status, 200, 'idle for 59 minutes: still signed in');

    await db.query(`update sessions set expire = localtimestamp - interval '1 minute' where sid = $1`, [sid]);
    assert.equal((await browser.request('GET', '/dashboard')).status, 401, 'idle for 61 minutes: signed out');
    assert.equal((await browser.request('GET', '/settings')).status, 401);
    assert.equal((await apiCall(app.url, 'GET', '/me', { browser })).status, 401, 'the API refuses it too');
  });

  test('a session ends twelve hours after sign-in however busy it is, and is deleted', async () => {
    const { browser } = await signedIn();
    const sid = sessionId(browser);
    const backdate = async (ms: number) => {
      await db.query(
        `update sessions set sess = jsonb_set(sess::jsonb, '{signedInAt}', to_jsonb($2::bigint))::json where sid = $1`,
        [sid, Date.now() - ms],
      );
    };
    await backdate(SESSION_ABSOLUTE_MS - 60_000);
    assert.equal((await browser.request('GET', '/dashboard')).status, 200, 'signed in 11 h 59 min ago: still in');
    // Requests keep the session from going idle (rolling), and still do not extend its absolute life.
    await backdate(SESSION_ABSOLUTE_MS + 60_000);
    assert.equal((await browser.request('GET', '/dashboard')).status, 401, 'signed in 12 h 1 min ago: signed out');
    await eventually(async () => (await db.query('select 1 from sessions where sid = $1', [sid])).rowCount === 0, {
      what: 'the session row to be deleted',
    });
    assert.equal((await apiCall(app.url, 'GET', '/me', { browser })).status, 401);
  });
});

// ------------------------------------------------------------------------------------------------
// CSRF matrix: every state-changing route of the real app, enumerated from its router stack.

interface RouteEntry {
  method: string;
  path: string;
}

interface StackLayer {
  rawPath?: unknown;
  route?: { path: string | string[]; methods: Record<string, boolean> };
  handle?: { stack?: StackLayer[] };
}

const STATE_CHANGING = ['post', 'put', 'patch', 'delete', '_all'];

/** Every POST/PUT/PATCH/DELETE (and `all`) route, with the prefixes of the routers it is mounted under. */
function stateChangingRoutes(express: Express): RouteEntry[] {
  const found: RouteEntry[] = [];
  const walk = (stack: StackLayer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        const paths = Array.isArray(layer.route.path) ? layer.route.path : [layer.route.path];
        for (const method of Object.keys(layer.route.methods).filter((m) => STATE_CHANGING.includes(m)))
          for (const p of paths)
            found.push({ method: method === '_all' ? 'ALL' : method.toUpperCase(), path: join(prefix, p) });
      } else if (layer.handle?.stack) {
        const mount = typeof layer.rawPath === 'string' && layer.rawPath !== '/' ? layer.rawPath : '';
        walk(layer.handle.stack, join(prefix, mount));
      }
    }
  };
  walk((express as unknown as { router: { stack: StackLayer[] } }).router.stack, '');
  return found;
}

function join(prefix: string, p: string): string {
  const joined = (prefix + (p === '/' && prefix ? '' : p)).replace(/\/+/g, '/');
  return joined || '/';
}

/**
 * The routes a browser on another site may reach on purpose: Heroku's add-on manager calls the Partner
 * API (Basic auth, no cookie), and Heroku's dashboard posts the sign-on form cross-site.
 */
const CROSS_SITE_BY_DESIGN = [
  'POST /heroku/resources',
  'PUT /heroku/resources/:id',
  'DELETE /heroku/resources/:id',
  'POST /sso/login',
  'ALL /sso/login',
];

/**
 * Everything in our database a request could change, as digests, except the session and rate-limit
 * bookkeeping and pg-boss's own (its instance row, queue counters, statistics), which its maintenance
 * writes on its own clock, requests or not.
 */
async function snapshot(): Promise<Record<string, string>> {
  const tables = (
    await db.query<{ schema: string; name: string }>(
      `select table_schema as schema, table_name as name from information_schema.tables
        where table_type = 'BASE TABLE'
          and (table_schema = 'public' or (table_schema = 'pgboss' and table_name like 'job%'))
          and table_name not in ('sessions', 'rate_limit_hits')
        order by 1, 2`,
    )
  ).rows;
  const digests: Record<string, string> = {};
  for (const { schema, name } of tables) {
    const { rows } = await db.query<{ digest: string }>(
      `select count(*) || ':' || md5(coalesce(string_agg(t::text, '|' order by t::text), '')) as digest
         from "${schema}"."${name}" t`,
    );
    digests[`${schema}.${name}`] = rows[0]!.digest;
  }
  return digests;
}

const routes = stateChangingRoutes(app.express);
const guarded = routes.filter((r) => !CROSS_SITE_BY_DESIGN.includes(`${r.method} ${r.path}`));

const origin = new URL(app.url).origin;

const pathFor = (route: RouteEntry) =>
  route.path.replace(/:[A-Za-z]+/g, () => (route.path.includes('token') ? tokenId : randomUUID()));

async function send(route: RouteEntry, headers: Record<string, string>, withToken: boolean): Promise<Response> {
  const path = pathFor(route);
  if (path.startsWith('/api/v1/'))
    return fetch(new URL(path, app.url), {
      method: route.method,
      headers: {
        accept: 'application/json',
        'content-type': 'application/json',
        cookie: [...browser.cookies].map(([k, v]) => `${k}=${v}`).join('; '),
        ...(withToken ? { 'x-csrf-token': csrf } : {}),
        ...headers,
      },
      body: JSON.stringify({ name: 'x', cron: '0 3 * * *', url: 'postgres://u:p@db.example.com/x' }),
    });
  return browser.request(route.method, path, { form: { name: 'x', ...(withToken ? { _csrf: csrf } : {}) }, headers });
}

describe('cross-site request forgery', () => {
  test('the routes are read from the app: the known ones are there, and the exceptions are exactly the listed ones', () => {
    const names = routes.map((r) => `${r.method} ${r.path}`);
    for (const known of [
      'POST /backups',
      'POST /settings/tokens',
      'POST /logout',
      'POST /api/v1/backups',
      'DELETE /api/v1/tokens/:id',
      'PUT /api/v1/schedule',
    ])
      assert.ok(names.includes(known), `${known} found among ${names.join(', ')}`);
    assert.deepEqual(names.filter((n) => CROSS_SITE_BY_DESIGN.includes(n)).sort(), [...CROSS_SITE_BY_DESIGN].sort());
    assert.ok(guarded.length >= 20, `${guarded.length} guarded routes`);
  });

  const attacks: Array<{ name: string; headers: Record<string, string>; withToken: boolean }> = [
    { name: 'without the CSRF token', headers: { origin, 'sec-fetch-site': 'same-origin' }, withToken: false },
    {
      name: 'from a foreign Origin (with the right token)',
      headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
      withToken: true,
    },
    {
      name: 'from a foreign site without an Origin header',
      headers: { 'sec-fetch-site': 'cross-site' },
      withToken: true,
    },
  ];

  for (const attack of attacks)
    test(`every state-changing page and API route refuses a request ${attack.name} with 403 and changes nothing`, async () => {
      const before = await snapshot();
      const answers: string[] = [];
      for (const route of guarded) {
        const response = await send(route, attack.headers, attack.withToken);
        await response.arrayBuffer();
        if (response.status !== 403) answers.push(`${route.method} ${route.path} answered ${response.status}`);
      }
      assert.deepEqual(answers, [], 'every route refused');
      assert.deepEqual(await snapshot(), before, 'nothing changed');
      assert.equal((await browser.request('GET', '/dashboard')).status, 200, 'still signed in');
    });

  test('the same requests from the dashboard itself get past the guard (so the 403s above are the guard)', async () => {
    const answers: string[] = [];
    // Logout last: it ends the session the others use.
    for (const route of [...guarded].sort((a, b) => Number(a.path === '/logout') - Number(b.path === '/logout'))) {
      const response = await send(route, { origin, 'sec-fetch-site': 'same-origin' }, true);
      const body = await response.text();
      if (response.status === 403) answers.push(`${route.method} ${route.path} answered 403: ${body.slice(0, 200)}`);
    }
    assert.deepEqual(answers, []);
    const actions = (await db.query('select action from audit_events where resource_id = $1', [uuid])).rows;
    assert.ok(actions.length > 0, 'the accepted requests did change things');
  });
});
