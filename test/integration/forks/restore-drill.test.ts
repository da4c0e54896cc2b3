import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startStack, apiCall } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { seedShardedDatabase } from '../../support/sharded-source.ts';
import { backupIn, CONNECT_CLIENT, connectClientEnv, connectedResource } from '../../support/factories.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { latestDrill } from '../../../src/backups/drills.repo.ts';

// Restore drills end to end (issue 15): a backup of a Heroku database forks it through the simulator,
// and while the fork stands an empty database is made beside it on the scratch app (the simulator
// creates it on its real server), the archive is restored into it with pg_restore and the two are
// compared table by table. Both databases are destroyed afterwards, whatever the drill found.
const server = await startSourceServer();
after(() => server.stop());
// The test hook: changes a restored table before the comparison, in the databases that have it only.
const ALTER =
  "do $$ begin if to_regclass('public.drill_alter_me') is not null then delete from public.drill_alter_me where id = 2; end if; end $$";
const stack = await startStack({
  sim: { oauthClients: [CONNECT_CLIENT], postgres: { adminUrl: server.url('postgres') }, forkReadyAfterMs: 200 },
  env: {
    ...connectClientEnv,
    FORK_POLL_INTERVAL_SECONDS: '0.2',
    FORK_READY_TIMEOUT_SECONDS: '20',
    // Small pieces, so the tricky database's big table is split and the drill restores an assembled archive.
    SHARD_SPLIT_SIZE: '1MB',
    DRILL_TEST_ALTER_SQL: ALTER,
  },
});
const { app, sim } = stack;
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };
let counter = 0;

async function drilledResource(extraSql?: string, { tricky = false } = {}) {
  const n = ++counter;
  // The tricky database is the sharded capture's round-trip database (partitions, inheritance, generated
  // columns, enums, citext, odd names, a matview, sequences part-way, large objects, a table to split).
  const databaseUrl = tricky
    ? await seedShardedDatabase(server, `drill_prod_${n}`, 30_000)
    : await seedSourceDatabase(server, `drill_prod_${n}`);
  if (!tricky) await addBigTable(server, `drill_prod_${n}`, 30_000);
  if (extraSql) await server.run(`drill_prod_${n}`, extraSql);
  const r = await connectedResource(stack, { databaseUrl, owner: `drill-owner-${n}-${Date.now()}@example.com` });
  const csrf = await r.browser.csrfToken();
  const set = await apiCall(app.url, 'PUT', '/drills', {
    browser: r.browser,
    csrf,
    body: { policy: 'weekly', target_plan: 'standard-0' },
  });
  assert.equal(set.status, 200, await set.clone().text());
  assert.equal(((await set.json()) as { notOffered: string | null }).notOffered, null);
  return { ...r, csrf };
}

async function databaseExists(name: string): Promise<boolean> {
  const client = new pg.Client(server.url('postgres'));
  await client.connect();
  try {
    return (await client.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1;
  } finally {
    await client.end();
  }
}

/** The drill's database and the backup's fork are gone at Heroku (the simulator) and on the server. */
async function assertNothingLeft(backupId: string) {
  const { target_addon_id: targetId } = (
    await db.query('select target_addon_id from restore_drills where backup_id = $1', [backupId])
  ).rows[0] as { target_addon_id: string };
  const { fork_addon_id: forkId } = await eventually(
    async () =>
      (await db.query('select fork_addon_id from backups where id = $1 and fork_destroyed_at is not null', [backupId]))
        .rows[0] as { fork_addon_id: string } | undefined,
    { timeoutMs: 20_000, what: 'the fork teardown' },
  );
  for (const addonId of [targetId, forkId]) {
    const addon = sim.postgresAddons().find((a) => a.id === addonId);
    assert.ok(addon, `the simulator made ${addonId}`);
    assert.equal(addon.state, 'deprovisioned', `${addonId} is destroyed at Heroku`);
    assert.equal(await databaseExists(addon.databaseName), false, `${addon.databaseName} is dropped`);
  }
  const target = sim.postgresAddons().find((a) => a.id === targetId)!;
  assert.equal(target.forkOf, undefined, 'the drill database was created empty, not forked');
}

test('a drill after a sharded fork backup of the tricky database passes with every table equal, records its duration and leaves nothing behind', async () => {
  const r = await drilledResource(undefined, { tricky: true });
  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  const done = await backupIn(db, requested.id, { timeoutMs: 120_000 });
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.captureMode, 'sharded', `${done.captureModeReason}`);
  const { rows: split } = await db.query<{ parts: number }>(
    `select count(*)::int as parts from backup_pieces where backup_id = $1 and table_name = 'big'`,
    [done.id],
  );
  assert.ok(split[0]!.parts >= 3, `the big table was split into ${split[0]!.parts} pieces`);
  const drill = await eventually(
    async () => {
      const d = await latestDrill(db, done.id);
      return d && d.state !== 'running' ? d : undefined;
    },
    { timeoutMs: 60_000, what: 'the drill to end' },
  );
  assert.equal(drill.state, 'passed', `${drill.failureReason} ${JSON.stringify(drill.differences)}`);
  assert.deepEqual(drill.differences, []);
  assert.ok(drill.tablesCompared! >= 5, `tables compared: ${drill.tablesCompared}`);
  assert.equal(drill.tablesEqual, drill.tablesCompared);
  assert.ok(drill.restoreSeconds !== null && drill.restoreSeconds >= 0);
  assert.equal(drill.restoreMode, 'parallel-file');
  // The event is written just after the drill's record (the test may look in between).
  await eventually(async () => (await listEvents(db, done.id)).some((e) => e.state === 'drill.passed') || undefined, {
    what: 'the drill.passed event',
  });
  await assertNothingLeft(done.id);

  const json = (await (await apiCall(app.url, 'GET', `/backups/${done.id}`, { browser: r.browser })).json()) as {
    drill: Record<string, unknown>;
  };
  assert.equal(json.drill.state, 'passed');
  assert.equal(json.drill.tablesEqual, drill.tablesCompared);
  assert.deepEqual(json.drill.differences, []);
  for (const field of ['startedAt', 'finishedAt', 'restoreSeconds', 'tablesCompared']) {
    assert.notEqual(json.drill[field], null, field);
  }
  const page = await (await r.browser.request('GET', `/backups/${done.id}`)).text();
  assert.match(
    page,
    new RegExp(`Restored on .+ in .+: ${drill.tablesCompared} of ${drill.tablesCompared} tables equal`),
  );
  const list = await (await r.browser.request('GET', '/dashboard')).text();
  assert.match(list, /restore drill passed/);
});

test('a drill whose restored data differs names the table and the kind of difference, fails, and still tears everything down', async () => {
  const r = await drilledResource(
    'create table public.drill_alter_me (id int primary key, v text); insert into public.drill_alter_me select i, i::text from generate_series(1, 10) i',
  );
  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  const done = await backupIn(db, requested.id, { timeoutMs: 90_000 });
  assert.equal(done.state, 'completed', 'the backup itself is verified whatever the drill finds');
  const drill = await eventually(
    async () => {
      const d = await latestDrill(db, done.id);
      return d && d.state !== 'running' ? d : undefined;
    },
    { timeoutMs: 60_000, what: 'the drill to end' },
  );
  assert.equal(drill.state, 'failed');
  assert.deepEqual(drill.differences, [
    { table: 'public.drill_alter_me', kind: 'row_count', detail: '10 rows in the fork, 9 restored' },
  ]);
  assert.equal(drill.tablesEqual, drill.tablesCompared! - 1);
  await eventually(async () => (await listEvents(db, done.id)).some((e) => e.state === 'drill.failed') || undefined, {
    what: 'the drill.failed event',
  });
  await assertNothingLeft(done.id);
  const page = await (await r.browser.request('GET', `/backups/${done.id}`)).text();
  assert.match(page, /the drill failed/);
  assert.match(page, /public\.drill_alter_me/);
  const list = await (await r.browser.request('GET', '/dashboard')).text();
  assert.match(list, /restore drill failed/);
});

test('drills are set in the dashboard settings, as the plan allows; a database that cannot be forked gets a skipped drill that says why', async () => {
  const n = ++counter;
  const databaseUrl = await seedSourceDatabase(server, `drill_prod_${n}`);
  const r = await connectedResource(stack, {
    databaseUrl,
    postgresPlan: 'essential-0',
    owner: `drill-owner-${n}-${Date.now()}@example.com`,
  });
  const settings = await (await r.browser.request('GET', '/settings')).text();
  assert.match(settings, /id="drills-form"/);
  const refused = await r.browser.submit('/settings/drills', { policy: 'every', target_plan: 'standard-0' });
  assert.equal(refused.status, 422, 'the Standard plan offers no drill after every backup');
  assert.match(await refused.text(), /This plan allows restore drills: off, weekly, monthly/);
  const saved = await r.browser.submit('/settings/drills', { policy: 'monthly', target_plan: 'standard-0' });
  assert.equal(saved.status, 303);
  assert.equal(saved.headers.get('location'), '/settings?notice=drills-saved');
  assert.match(await (await r.browser.request('GET', '/settings')).text(), /Now: <strong>Monthly<\/strong>/);
  assert.equal((await r.browser.submit('/settings/heroku', { allow_direct_fallback: '1' })).status, 303);

  const requested = (await requestBackup(web, r.uuid, { trigger: 'manual', requestedBy: r.owner }))!;
  const done = await backupIn(db, requested.id, { timeoutMs: 90_000 });
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  assert.equal(done.sourceMode, 'direct-fallback');
  // Recorded after the backup completed, as every drill is.
  const drill = await eventually(() => latestDrill(db, done.id), { what: 'the skipped drill to be recorded' });
  assert.equal(drill.state, 'skipped');
  assert.match(drill.failureReason!, /could not be forked/);
  const page = await (await r.browser.request('GET', `/backups/${done.id}`)).text();
  assert.match(page, /Restore drill skipped: the database could not be forked/);
});
