import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, Browser, apiCall } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { testServerUrl } from '../../support/database.ts';

// Two deployments: one as production runs (private hosts refused), one as the tests and the embedded
// default run (ALLOW_PRIVATE_DATABASE_HOSTS=true), so loopback sources can be checked for real.
const closed = await startStack({ env: { ALLOW_PRIVATE_DATABASE_HOSTS: 'false' } });
const open = await startStack({ env: { ALLOW_PRIVATE_DATABASE_HOSTS: 'true' } });

/** The test server's superuser URL with `host` (and optionally more) swapped in. */
function serverUrl(host: string, extra = ''): string {
  const url = new URL(testServerUrl());
  return `postgres://${url.username}:${url.password}@${host}:${url.port}/postgres${extra}`;
}

async function admin(stack: typeof closed) {
  const outcome = await stack.sim.provision({ plan: 'standard' });
  await eventually(
    async () =>
      (await stack.app.runtime.pool.query('select app_name from resources where id = $1', [outcome.uuid])).rows[0]
        ?.app_name,
    { what: 'app name' },
  );
  const browser = new Browser(stack.app.url);
  assert.equal((await browser.signIn(stack.sim.ssoForm(outcome.uuid))).status, 303);
  const csrf = await browser.csrfToken();
  return {
    uuid: outcome.uuid,
    async putSource(url: string) {
      const response = await apiCall(stack.app.url, 'PUT', '/source', { browser, csrf, body: { url } });
      const body = (await response.json()) as { code?: string; message?: string; source?: unknown };
      return { status: response.status, code: body.code, message: body.message ?? '', body };
    },
  };
}

const closedAdmin = await admin(closed);
const openAdmin = await admin(open);

test('a source on loopback, in any spelling, is refused with source_not_allowed and no address', async () => {
  const port = new URL(testServerUrl()).port;
  for (const host of [
    '127.0.0.1',
    'localhost',
    '2130706433',
    '0x7f000001',
    '0177.0.0.1',
    '127.1',
    '[::1]',
    '[::ffff:127.0.0.1]',
    '[::ffff:7f00:1]',
  ]) {
    const answer = await closedAdmin.putSource(serverUrl(host));
    assert.equal(answer.status, 422, `${host}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.code, 'source_not_allowed', host);
    assert.doesNotMatch(answer.message, /127\.0\.0\.1|::1|ECONN|\b\d{4,5}\b/, host);
    assert.ok(!answer.message.includes(port), `${host}: the message names no port`);
  }
  const stored = await closed.app.runtime.pool.query('select 1 from backup_sources where resource_id = $1', [
    closedAdmin.uuid,
  ]);
  assert.equal(stored.rowCount, 0, 'nothing was saved');
});

test('private, link-local and unspecified addresses are refused before any connection is tried', async () => {
  for (const host of ['10.1.2.3', '172.16.0.9', '192.168.1.1', '100.64.0.1', '169.254.169.254', '[fd00::1]']) {
    const started = Date.now();
    const answer = await closedAdmin.putSource(serverUrl(host));
    assert.equal(answer.code, 'source_not_allowed', `${host}: ${JSON.stringify(answer.body)}`);
    assert.ok(Date.now() - started < 5000, `${host} was refused without waiting for a connection`);
  }
});

test('with private hosts allowed, loopback works but link-local, unspecified and multicast never do', async () => {
  const saved = await openAdmin.putSource(serverUrl('127.0.0.1'));
  assert.equal(saved.status, 200, JSON.stringify(saved.body));
  for (const host of ['169.254.169.254', '0.0.0.0', '0', '[::]', '[fe80::1]', '224.0.0.1', '255.255.255.255']) {
    const answer = await openAdmin.putSource(serverUrl(host));
    assert.equal(answer.code, 'source_not_allowed', `${host}: ${JSON.stringify(answer.body)}`);
  }
});

test('a failed connection is described by its kind, never by the driver text or an address', async () => {
  const refused = await openAdmin.putSource('postgres://u:pw@127.0.0.1:1/db');
  assert.equal(refused.status, 422);
  assert.equal(refused.code, 'source_unreachable');
  assert.match(refused.message, /connection refused/);
  assert.doesNotMatch(refused.message, /127\.0\.0\.1|ECONNREFUSED|:1\b/);

  const wrongPassword = await openAdmin.putSource(serverUrl('127.0.0.1').replace(/:[^:@/]+@/, ':wrong@'));
  assert.equal(wrongPassword.code, 'source_unreachable');
  assert.match(wrongPassword.message, /authentication failed/);
  assert.doesNotMatch(wrongPassword.message, /127\.0\.0\.1/);
});

test('connection parameters our parser refuses are refused at save time too, with 422 naming the problem', async () => {
  const cases: Array<[string, RegExp]> = [
    [serverUrl('127.0.0.1', '?host=/var/run/postgresql'), /"host"/],
    [serverUrl('%2Fvar%2Frun%2Fpostgresql'), /unix-socket/],
    [serverUrl('127.0.0.1', '?options=-c%20search_path%3Devil'), /"options"/],
    [serverUrl('127.0.0.1', '?sslrootcert=/etc/ssl/private/key.pem'), /"sslrootcert"/],
    [serverUrl('127.0.0.1', '?keepalives=1'), /"keepalives"/],
    [serverUrl('127.0.0.1', '?sslmode=sometimes'), /sslmode must be/],
    ['postgres://u:%E0%A4%A@127.0.0.1/db', /percent-encoding/],
  ];
  for (const [url, problem] of cases) {
    const answer = await openAdmin.putSource(url);
    assert.equal(answer.status, 422, `${url}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.code, 'invalid_source', url);
    assert.match(answer.message, problem, url);
  }
});
