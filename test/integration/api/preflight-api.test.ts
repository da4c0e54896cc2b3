import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack, apiCall, type ApiAuth } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import {
  CONNECT_CLIENT,
  connectClientEnv,
  connectedResource,
  forceCompleted,
  pendingBackupRow,
  signedInBrowser,
  signedInResource,
} from '../../support/factories.ts';
import { startSourceServer, seedSourceDatabase, createDatabase } from '../../support/seed-source.ts';
import { RISKY, seedRiskyDatabase } from '../../support/risky-database.ts';
import pg from 'pg';
import { demoDataSql } from '../../../dev/embedded/demo-data.ts';

const server = await startSourceServer();
after(() => server.stop());
const stack = await startStack({ sim: { oauthClients: [CONNECT_CLIENT] }, env: connectClientEnv });
const { app } = stack;
const riskyUrl = await seedRiskyDatabase(server, 'risky');
const plainUrl = await seedSourceDatabase(server, 'shop');
// The demo database `npm start` builds (its schemas, partitions, large objects), at a twentieth of its size.
const demoUrl = await createDatabase(server, 'demo_shop');
{
  const builder = new pg.Client(demoUrl);
  await builder.connect();
  for (const statement of demoDataSql(0.05)) await builder.query(statement);
  await builder.query('vacuum analyze');
  await builder.end();
}

interface ReportJson {
  checkedAt: string | null;
  trigger: string | null;
  backupId: string | null;
  findings: Array<{ code: string; severity: string; title: string; advice: string }>;
}

async function report(auth: ApiAuth): Promise<ReportJson> {
  const response = await apiCall(app.url, 'GET', '/preflight', auth);
  assert.equal(response.status, 200);
  return (await response.json()) as ReportJson;
}

/** Waits for a report other than `after` (by time): the one a worker job stores. */
function nextReport(auth: ApiAuth, after: string | null = null): Promise<ReportJson> {
  return eventually(
    async () => {
      const r = await report(auth);
      return r.checkedAt && r.checkedAt !== after ? r : undefined;
    },
    { timeoutMs: 30_000, what: 'a pre-flight report' },
  );
}

/** An admin signed in to a new add-on whose source is `url`, set through the API. */
async function adminWithSource(url: string) {
  const { uuid, browser } = await signedInResource(stack);
  const auth = { browser, csrf: await browser.csrfToken() };
  const put = await apiCall(app.url, 'PUT', '/source', { ...auth, body: { url } });
  assert.equal(put.status, 200, await put.clone().text());
  return { uuid, browser, auth };
}

const find = (r: ReportJson, code: string) => {
  const finding = r.findings.find((f) => f.code === code);
  assert.ok(finding, `finding ${code} in ${r.findings.map((f) => f.code).join(', ')}`);
  assert.ok(finding.advice.length > 30, `${code} says what to do`);
  return finding;
};

test('a source just set is reported on: 50+ schemas, many large objects, the unlogged table, heroku_ext extensions and roles, each with its advice', async () => {
  const { auth } = await adminWithSource(riskyUrl);
  const r = await nextReport(auth);
  assert.equal(r.trigger, 'source_set');
  assert.ok(Date.now() - Date.parse(r.checkedAt!) < 60_000);

  const schemas = find(r, 'many_schemas');
  assert.equal(schemas.severity, 'warning');
  assert.match(schemas.title, new RegExp(`^${RISKY.tenantSchemas + 1} schemas: 50 or more`));
  const los = find(r, 'large_objects');
  assert.equal(los.severity, 'warning');
  assert.match(los.title, /^200 large objects/);
  // Dumped directly (a URL, no fork), the unlogged table's rows are in the backup: said, as info.
  const unlogged = find(r, 'unlogged_tables');
  assert.equal(unlogged.severity, 'info');
  assert.match(unlogged.title, new RegExp(RISKY.unloggedTable.replace('.', '\\.')));
  assert.match(unlogged.advice, /SET LOGGED/);
  const ext = find(r, 'heroku_ext_extensions');
  assert.equal(ext.severity, 'warning');
  assert.match(ext.title, /citext/);
  assert.match(ext.advice, /CREATE EXTENSION IF NOT EXISTS "citext" SCHEMA heroku_ext;/);
  const roles = find(r, 'roles_and_grants');
  assert.equal(roles.severity, 'info');
  assert.match(roles.title, new RegExp(`${RISKY.role} \\(2 grants\\)`));
  assert.match(roles.advice, /--no-owner --no-acl/);
  assert.match(find(r, 'server_version').title, /^PostgreSQL 15\.\d+.*; pg_dump 1\d is installed/);
  const duration = find(r, 'expected_duration');
  assert.equal(duration.severity, 'info');
  assert.match(duration.title, /at an assumed 67\.1 MB\/s .*the Standard plan allows 20 h/);
  find(r, 'database_size');
  find(r, 'largest_tables');
  assert.deepEqual(
    r.findings.map((f) => f.severity),
    [...r.findings.map((f) => f.severity)].sort(
      (a, b) => ['critical', 'warning', 'info'].indexOf(a) - ['critical', 'warning', 'info'].indexOf(b),
    ),
    'most severe first',
  );
});

for (const [name, url] of [
  ['the plain test database', () => plainUrl],
  ['the demo database', () => demoUrl],
] as const)
  test(`${name} reports no warnings`, async () => {
    const { auth } = await adminWithSource(url());
    const r = await nextReport(auth);
    assert.deepEqual(
      r.findings.filter((f) => f.severity !== 'info').map((f) => `${f.code}: ${f.title}`),
      [],
    );
    for (const code of ['database_size', 'object_counts', 'expected_duration', 'server_version', 'roles_and_grants'])
      find(r, code);
  });

test("a check on demand stores a new report, whose estimate uses the database's own past throughput", async () => {
  const { uuid, auth } = await adminWithSource(plainUrl);
  const first = await nextReport(auth);
  assert.match(find(first, 'expected_duration').title, /assumed/);
  // A completed backup that dumped 3.6 GB in an hour: 1 MB/s.
  const backup = await pendingBackupRow(app.runtime.pool, uuid);
  await forceCompleted(app.runtime.pool, backup.id);
  await app.runtime.pool.query(`update backups set source_bytes = $2, progress = $3::jsonb where id = $1`, [
    backup.id,
    3_600_000_000,
    JSON.stringify({
      samples: [
        [12, 0],
        [3612, 900_000_000],
      ],
      sourceBytesPerSecond: 5_000_000,
    }),
  ]);
  const response = await apiCall(app.url, 'POST', '/preflight', auth);
  assert.equal(response.status, 201, await response.clone().text());
  const second = (await response.json()) as ReportJson;
  assert.equal(second.trigger, 'on_demand');
  assert.ok(Date.parse(second.checkedAt!) > Date.parse(first.checkedAt!));
  assert.match(
    find(second, 'expected_duration').title,
    /at this database's own rate of 1 MB\/s \(median of its last 1 backup\)/,
  );
  assert.match(find(second, 'database_growth').title, /^Shrank by .* since backup b001 on \d{4}-\d\d-\d\d/);
  assert.deepEqual(await report(auth), second, 'GET answers the newest report');
});

test('anyone may read the report; only an admin runs a check; with no source the check is refused', async () => {
  const { uuid, auth } = await adminWithSource(plainUrl);
  await nextReport(auth);
  const viewer = await signedInBrowser(stack, uuid, 'viewer@example.com');
  const viewerAuth = { browser: viewer, csrf: await viewer.csrfToken() };
  assert.ok((await report(viewerAuth)).findings.length > 0);
  assert.equal((await apiCall(app.url, 'POST', '/preflight', viewerAuth)).status, 403);

  const { browser } = await signedInResource(stack);
  const empty = { browser, csrf: await browser.csrfToken() };
  assert.deepEqual(await report(empty), { checkedAt: null, trigger: null, backupId: null, findings: [] });
  const refused = await apiCall(app.url, 'POST', '/preflight', empty);
  assert.equal(refused.status, 409);
  assert.match(((await refused.json()) as { message: string }).message, /set a database URL or connect Heroku/);
});

test('a Heroku database just connected is reported on, and there its unlogged tables are a warning: a fork has them empty', async () => {
  const { browser } = await connectedResource(stack, { databaseUrl: riskyUrl });
  const auth = { browser, csrf: await browser.csrfToken() };
  const r = await nextReport(auth);
  assert.equal(r.trigger, 'connected');
  const unlogged = find(r, 'unlogged_tables');
  assert.equal(unlogged.severity, 'warning');
  assert.match(unlogged.title, /not in a fork, so not in the backup/);
  find(r, 'many_schemas');
  find(r, 'heroku_ext_extensions');
});
