import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededSourceServer } from '../../support/factories.ts';
import { LOOPBACK_ALLOWED, addBigTable, createDatabase } from '../../support/seed-source.ts';
import { SYSTEM_PG15_BIN } from '../../../dev/db/local-cluster.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { captureArchive, directSource, parseDatabaseUrl, runRestoreDrill } from '../../../src/engine/index.ts';

// The engine part of a restore drill (issue 15): the stored archive restored with stock pg_restore into
// an empty database, then compared with the database it was dumped from, table by table.
const { server, sourceUrl } = await seededSourceServer();
await addBigTable(server, 'shop', 20_000);
const root = mkdtempSync(path.join(os.tmpdir(), 'bb-drill-store-'));
const store = await openObjectStore(`file://${root}`, {});
after(() => store.close());
after(() => rmSync(root, { recursive: true, force: true }));
const spools = () => readdirSync(os.tmpdir()).filter((f) => f.startsWith('bb-drill-spool-'));
const pgRestore = path.join(SYSTEM_PG15_BIN, 'pg_restore');
const captured = await captureArchive({
  source: directSource(sourceUrl),
  hosts: LOOPBACK_ALLOWED,
  store,
  format: 'default',
  key: () => 'tenants/t/drill/attempt-1.dump',
});

test('a drill restores the archive with pg_restore -j 4 from a spooled file and finds every table equal', async () => {
  const target = parseDatabaseUrl(await createDatabase(server, 'drill_equal'));
  const spooledBefore = spools();
  const result = await runRestoreDrill({
    store,
    key: captured.key,
    bytes: captured.stored.bytes,
    reference: parseDatabaseUrl(sourceUrl),
    target,
    pgRestore,
    jobs: 4,
    spool: { maxBytes: 1024 ** 3 },
    hosts: LOOPBACK_ALLOWED,
  });
  assert.deepEqual(result.differences, []);
  assert.equal(result.restore.mode, 'parallel-file');
  assert.equal(result.restore.jobs, 4);
  assert.equal(result.restore.exitCode, 0, result.restore.warnings.join('\n'));
  assert.ok(result.tablesCompared >= 5, `tables compared: ${result.tablesCompared}`);
  assert.equal(result.tablesEqual, result.tablesCompared);
  assert.ok(result.restore.seconds >= 0);
  assert.equal(result.passed, true);
  assert.deepEqual(spools(), spooledBefore, 'the spooled archive is removed');
});

test('a drill whose restored data differs names the table and the kind of difference, and fails', async () => {
  const target = parseDatabaseUrl(await createDatabase(server, 'drill_differs'));
  const result = await runRestoreDrill({
    store,
    key: captured.key,
    bytes: captured.stored.bytes,
    reference: parseDatabaseUrl(sourceUrl),
    target,
    pgRestore,
    jobs: 1, // one job, the archive streamed into pg_restore's stdin
    hosts: LOOPBACK_ALLOWED,
    beforeCompare: async (restored) => {
      await restored.query("update public.big set a = a || '!' where id = 17");
      await restored.query('delete from public.big where id = 18');
    },
  });
  assert.equal(result.restore.mode, 'stream');
  assert.equal(result.passed, false);
  assert.deepEqual(result.differences, [
    { table: 'public.big', kind: 'row_count', detail: '20000 rows in the fork, 19999 restored' },
  ]);
  assert.equal(result.tablesEqual, result.tablesCompared - 1);

  const sameCount = parseDatabaseUrl(await createDatabase(server, 'drill_content'));
  const changed = await runRestoreDrill({
    store,
    key: captured.key,
    bytes: captured.stored.bytes,
    reference: parseDatabaseUrl(sourceUrl),
    target: sameCount,
    pgRestore,
    jobs: 1,
    hosts: LOOPBACK_ALLOWED,
    beforeCompare: async (restored) => {
      await restored.query("update public.big set a = a || '!' where id = 17");
      await restored.query("select setval('sales.orders_id_seq', 9999)");
      await restored.query('create index big_extra on public.big (id)');
      await restored.query("select lo_put((select min(oid) from pg_largeobject_metadata), 0, '\\x00'::bytea)");
    },
  });
  assert.deepEqual(
    changed.differences.map((d) => [d.table, d.kind]),
    [
      ['(large objects)', 'content'],
      ['public.big', 'content'],
      ['sales.orders_id_seq', 'sequence'],
      ['index', 'extra_index'],
    ],
  );
});
