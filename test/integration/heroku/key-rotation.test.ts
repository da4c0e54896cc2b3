import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { startHerokuSimulator } from '../../../dev/simulator/index.ts';
import { freePort } from '../../../dev/db/local-cluster.ts';
import { Browser, apiCall } from '../../support/stack.ts';
import { eventually, startTestApp, testSecrets, type TestApp } from '../../support/app.ts';
import { createTestDatabase } from '../../support/database.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { withPartnerApi } from '../../../src/heroku/partner-authorization.ts';
import { replaceSealedValue } from '../../../src/secrets/sealed-values.repo.ts';

// Key rotation to the end: values sealed under key A; ENCRYPTION_KEY becomes "B,A" and the worker
// re-seals everything under B and reports nothing left under A; A is removed ("B" alone) and a
// backup of a direct source, a fork backup through the connected account and a partner API call
// all still work, because every value they open is now sealed under B.
const CONNECT = { id: 'big-backup-connect', secret: 'connect-client-secret-for-tests-only' };
const server = await startSourceServer();
after(() => server.stop());
const secrets = testSecrets();
const keyA = secrets.ENCRYPTION_KEY;
const keyB = randomBytes(32).toString('base64');
/** A key's id as sealed values carry it (secret-box.ts: the first 12 hex digits of its SHA-256). */
const idOf = (key: string) => createHash('sha256').update(Buffer.from(key, 'base64')).digest('hex').slice(0, 12);
const port = await freePort();
const sim = await startHerokuSimulator({
  addon: {
    id: 'big-backup',
    password: secrets.HEROKU_ADDON_PASSWORD,
    ssoSalt: secrets.HEROKU_SSO_SALT,
    baseUrl: `http://127.0.0.1:${port}/heroku/resources`,
    ssoUrl: `http://127.0.0.1:${port}/sso/login`,
  },
  oauthClientSecret: secrets.HEROKU_OAUTH_CLIENT_SECRET,
  oauthClients: [{ id: CONNECT.id, secret: CONNECT.secret }],
  postgres: { adminUrl: server.url('postgres') },
  forkReadyAfterMs: 200,
});
after(() => sim.stop());
const databaseUrl = await createTestDatabase('rotation');

/** The web process and worker on the one database, with ENCRYPTION_KEY as given: a restart with new config. */
async function startWith(encryptionKey: string): Promise<TestApp> {
  const app = await startTestApp(
    {
      ...secrets,
      ENCRYPTION_KEY: encryptionKey,
      HEROKU_API_URL: sim.url,
      HEROKU_OAUTH_URL: sim.url,
      HEROKU_CONNECT_CLIENT_ID: CONNECT.id,
      HEROKU_CONNECT_CLIENT_SECRET: CONNECT.secret,
      FORK_POLL_INTERVAL_SECONDS: '0.2',
      FORK_READY_TIMEOUT_SECONDS: '10',
    },
    { databaseUrl, port },
  );
  await app.startWorker();
  return app;
}

/** Every sealed value in the database, as `table.column` → ciphertexts. */
async function sealedValues(app: TestApp): Promise<string[]> {
  const { rows } = await app.runtime.pool.query<{ value: string }>(
    `select grant_code_ciphertext as value from heroku_authorizations
     union all select access_token_ciphertext from heroku_authorizations
     union all select refresh_token_ciphertext from heroku_authorizations
     union all select access_token_ciphertext from heroku_connections
     union all select refresh_token_ciphertext from heroku_connections
     union all select url_ciphertext from backup_sources
     union all select url_ciphertext from resource_log_inputs
     union all select secret_ciphertext from webhooks`,
  );
  return rows.map((r) => r.value).filter((v): v is string => v !== null);
}

/** The report the worker logs at the end of a re-seal pass. */
interface ResealLog {
  resealed: number;
  unreadable: number;
  unlistedColumns: string[];
  olderKeysRemovable: boolean;
  remaining: Array<{ key: string; keyId: string; values: number }>;
}

/** The worker's re-seal report: the first log line of that kind. */
async function resealReport(app: TestApp): Promise<ResealLog> {
  return eventually(
    async () =>
      app.logs.lines
        .map((line) => JSON.parse(line) as Record<string, unknown>)
        .find((entry) => entry.msg === 'sealed values re-sealed') as ResealLog | undefined,
    { timeoutMs: 20_000, what: 'the re-seal report' },
  );
}

async function settled(app: TestApp, id: string) {
  return eventually(
    async () => {
      const b = await findBackup(app.runtime.pool, id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs: 60_000, what: 'the backup to settle' },
  );
}

test('rotating ENCRYPTION_KEY: the worker re-seals every value under the new key, the old key can be removed, and backups and Heroku calls still work', async () => {
  // Under key A: a connected Heroku database (partner and connected-account tokens) and a direct URL.
  const first = await startWith(keyA);
  const db = first.runtime.pool;
  const owner = `owner-${Date.now()}@example.com`;
  const heroku = await sim.provision({ plan: 'standard', app: { owner, collaborators: [] } });
  assert.equal(heroku.result, 'provisioned');
  sim.attachPostgres(sim.app(heroku.addon.appId)!.name, {
    url: await seedSourceDatabase(server, 'rotation_heroku'),
    plan: 'standard-0',
  });
  const direct = await sim.provision({ plan: 'standard' });
  assert.equal(direct.result, 'provisioned');
  for (const uuid of [heroku.uuid, direct.uuid])
    await eventually(
      async () => (await db.query('select app_name from resources where id = $1', [uuid])).rows[0]?.app_name,
      { what: 'the app name' },
    );

  const connecting = new Browser(first.url);
  assert.equal((await connecting.signIn(sim.ssoForm(heroku.uuid, { user: owner }))).status, 303);
  const start = await connecting.request('GET', '/connect/heroku');
  const authorize = new URL(start.headers.get('location')!);
  authorize.searchParams.set('user', owner);
  const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
  const back = await connecting.request('GET', callback.pathname + callback.search);
  assert.equal(back.headers.get('location'), '/settings/heroku?notice=connected');

  const saving = new Browser(first.url);
  assert.equal((await saving.signIn(sim.ssoForm(direct.uuid))).status, 303);
  const csrf = await saving.csrfToken();
  const saved = await apiCall(first.url, 'PUT', '/source', {
    browser: saving,
    csrf,
    body: { url: await seedSourceDatabase(server, 'rotation_direct') },
  });
  assert.equal(saved.status, 200, await saved.clone().text());
  // A webhook's secret is sealed to the webhook (its own id), not to the resource.
  const hook = await apiCall(first.url, 'POST', '/notifications/webhooks', {
    browser: saving,
    csrf,
    body: { url: 'http://127.0.0.1:9/hook' },
  });
  assert.equal(hook.status, 201, await hook.clone().text());

  const underA = await sealedValues(first);
  assert.ok(
    underA.length >= 9,
    `partner tokens, connected-account tokens, a URL, log inputs and a webhook secret are sealed (${underA.length})`,
  );
  assert.ok(underA.every((v) => v.startsWith(`v1.${idOf(keyA)}.`)));
  await first.stop();

  // Rotate: B first (it seals), A after it (it still opens). The worker re-seals at start.
  const rotating = await startWith(`${keyB},${keyA}`);
  const report = await resealReport(rotating);
  assert.equal(report.resealed, underA.length);
  assert.deepEqual(
    report.remaining.map((r) => [r.keyId, r.values]),
    [[idOf(keyA), 0]],
    'the report names the old key and says nothing is left under it',
  );
  assert.equal(report.unreadable, 0);
  assert.deepEqual(report.unlistedColumns, [], 'every *_ciphertext column of the schema is re-sealed');
  assert.equal(report.olderKeysRemovable, true);
  const underB = await sealedValues(rotating);
  assert.equal(underB.length, underA.length);
  assert.ok(
    underB.every((v) => v.startsWith(`v1.${idOf(keyB)}.`)),
    'every value is sealed under B',
  );
  // Beside a writer: a value that changed since it was read is left to the writer.
  const pool = rotating.runtime.pool;
  const urlOf = async () =>
    (await pool.query('select url_ciphertext from backup_sources where resource_id = $1', [direct.uuid])).rows[0]
      .url_ciphertext as string;
  const current = await urlOf();
  const column = { table: 'backup_sources', column: 'url_ciphertext' };
  assert.equal(await replaceSealedValue(pool, column, direct.uuid, 'v1.stale.read.x.y', 'x'), false);
  assert.equal(await urlOf(), current);
  await rotating.stop();

  // Safe to run twice: another worker start finds nothing to do and changes nothing.
  const again = await startWith(`${keyB},${keyA}`);
  assert.equal((await resealReport(again)).resealed, 0);
  assert.deepEqual(await sealedValues(again), underB);
  await again.stop();

  // A removed: everything still opens.
  const final = await startWith(keyB);
  const web = { pool: final.runtime.pool, boss: final.boss };
  const addon = await withPartnerApi(final.runtime.partner, heroku.uuid, (api) => api.getAddon(heroku.uuid));
  assert.equal(addon.id, heroku.uuid, 'a partner API call with the re-sealed partner token');
  for (const uuid of [direct.uuid, heroku.uuid]) {
    const requested = (await requestBackup(web, uuid, { trigger: 'manual', requestedBy: 'rotation test' }))!;
    const backup = await settled(final, requested.id);
    assert.equal(
      backup.state,
      'completed',
      `${uuid === direct.uuid ? 'direct' : 'fork'} backup: ${backup.failureReason}`,
    );
  }
});
