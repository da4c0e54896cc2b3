import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { backupIn, resourceWithDirectSource, signedInBrowser } from '../../support/factories.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { tailLogs } from '../../../src/backups/backup-logs.repo.ts';
import { findBackupReport } from '../../../src/preflight/preflight.repo.ts';

// The pre-flight report taken inside each backup attempt, on the database it dumps: stored with the
// backup, summed up in its log, and never a reason for the backup to fail.
const stack = await startStack();
const { app } = stack;
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
const server = await startSourceServer();
after(() => server.stop());
const seededUrl = await seedSourceDatabase(server, 'shop');

/**
 * A database owned by a role that is not a superuser, on a server where that role may not call
 * `aclexplode`: pg_dump needs no such function, the survey's roles query does, so that one catalog
 * query fails as it would for a credential with fewer rights.
 */
async function databaseWithRevokedCatalogFunction(): Promise<string> {
  const password = 'owner-pw-1234';
  await server.run('postgres', `create role bb_owner login password '${password}'`);
  await server.run('postgres', 'create database owned owner bb_owner');
  await server.run(
    'owned',
    `set role bb_owner;
     create table public.items (id int primary key, name text);
     insert into public.items select i, 'item ' || i from generate_series(1, 1000) i;
     reset role;
     revoke execute on function pg_catalog.aclexplode(aclitem[]) from public;`,
  );
  const url = new URL(server.url('owned'));
  url.username = 'bb_owner';
  url.password = password;
  return url.toString();
}

async function backUp(sourceUrl: string) {
  const resourceId = await resourceWithDirectSource(stack, sourceUrl);
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'admin@example.com' });
  const done = await backupIn(db, requested!.id, { timeoutMs: 60_000 });
  const log = (await tailLogs(db, done.id)).map((l) => l.message).join('\n');
  return { done, log, report: await findBackupReport(db, done.id) };
}

test('each backup stores a pre-flight report of the database it dumps and sums it up in its log', async () => {
  const { done, log, report } = await backUp(seededUrl);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.ok(report, 'a report is stored with the backup');
  assert.equal(report.trigger, 'backup');
  assert.equal(report.resourceId, done.resourceId);
  assert.ok(report.databaseBytes! > 0);
  assert.ok(report.findings.some((f) => f.code === 'database_size'));
  assert.ok(!report.findings.some((f) => f.code === 'survey_incomplete'));
  assert.match(log, /pre-flight: no warnings/);

  // The backup's page sums it up and links to it; the report page shows that backup's report, to this
  // resource's users only.
  const browser = await signedInBrowser(stack, done.resourceId);
  const page = await (await browser.request('GET', `/backups/${done.id}`)).text();
  assert.match(page, /pre-flight<\/span>\s*no warnings on the database this backup dumped/);
  assert.match(page, new RegExp(`<a href="/preflight\\?backup=${done.id}">see the report</a>`));
  const reportPage = await (await browser.request('GET', `/preflight?backup=${done.id}`)).text();
  assert.match(reportPage, /before a backup, on the database it dumped/);
  assert.match(reportPage, /data-code="database_size"/);
  const other = await signedInBrowser(stack, await resourceWithDirectSource(stack, seededUrl));
  assert.equal((await other.request('GET', `/preflight?backup=${done.id}`)).status, 404);
  assert.equal((await other.request('GET', '/preflight?backup=not-a-uuid')).status, 404);
});

test('a catalog query that fails costs that part of the report, never the backup', async () => {
  const { done, log, report } = await backUp(await databaseWithRevokedCatalogFunction());
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.ok(report, 'the rest of the report is stored');
  const incomplete = report.findings.find((f) => f.code === 'survey_incomplete');
  assert.ok(incomplete, report.findings.map((f) => f.code).join(', '));
  assert.equal(incomplete.severity, 'warning');
  assert.match(incomplete.title, /roles \(permission denied for function aclexplode \(SQLSTATE 42501\)\)/);
  assert.ok(
    report.findings.some((f) => f.code === 'database_size'),
    'the other parts were read',
  );
  assert.match(log, /pre-flight: 1 warning: Part of the catalog could not be read/);
  assert.match(log, /verified: \d+ tables/);
});
