import test from 'node:test';
import assert from 'node:assert/strict';
import { parseCopyStatement, pieceQuery } from '../../src/engine/sharded/copy-statement.ts';

test("a TOC entry's COPY statement gives its table and column list verbatim, whatever the quoted names hold", () => {
  assert.deepEqual(parseCopyStatement('COPY "public"."big" ("id", "a", "b") FROM stdin;\n'), {
    table: '"public"."big"',
    columns: '"id", "a", "b"',
  });
  assert.deepEqual(
    parseCopyStatement('COPY "we.ird ""schema"""."ta ble.""x"", (y)" ("co,l ""1""", "(p)", "é") FROM stdin;\n'),
    { table: '"we.ird ""schema"""."ta ble.""x"", (y)"', columns: '"co,l ""1""", "(p)", "é"' },
  );
  // A table without columns: pg_dump writes no list at all.
  assert.deepEqual(parseCopyStatement('COPY "public"."empty"  FROM stdin;\n'), {
    table: '"public"."empty"',
    columns: '',
  });
  assert.throws(() => parseCopyStatement('SELECT 1'), /not a COPY statement/);
  assert.throws(() => parseCopyStatement('COPY "a"."b FROM stdin;'), /unterminated/);
});

test('a whole table is copied as pg_dump does; a ctid range as a SELECT of the same columns from ONLY the table', () => {
  const statement = 'COPY "s"."t" ("a", "b") FROM stdin;\n';
  assert.deepEqual(pieceQuery(statement, null), { copy: 'COPY "s"."t" ("a", "b") TO stdout', select: null });
  assert.equal(
    pieceQuery(statement, { fromBlock: null, toBlock: 100 }).copy,
    `COPY (SELECT "a", "b" FROM ONLY "s"."t" WHERE ctid < '(100,0)'::pg_catalog.tid) TO stdout`,
  );
  assert.equal(
    pieceQuery(statement, { fromBlock: 100, toBlock: 200 }).select,
    `SELECT "a", "b" FROM ONLY "s"."t" WHERE ctid >= '(100,0)'::pg_catalog.tid AND ctid < '(200,0)'::pg_catalog.tid`,
  );
  assert.equal(
    pieceQuery(statement, { fromBlock: 200, toBlock: null }).select,
    `SELECT "a", "b" FROM ONLY "s"."t" WHERE ctid >= '(200,0)'::pg_catalog.tid`,
  );
  assert.throws(() => pieceQuery(statement, { fromBlock: -1, toBlock: null }), /out of range/);
});
