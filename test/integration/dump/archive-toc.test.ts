import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { ArchiveTocReader, listingLine } from '../../../src/engine/archive-toc.ts';
import { archiveContents, parseContents } from '../../../src/engine/archive-contents.ts';
import { startSourceServer, seedSourceDatabase, listArchive, type SourceServer } from '../../support/seed-source.ts';
import { SYSTEM_PG15_BIN } from '../../../dev/db/local-cluster.ts';

// The table-of-contents reader against real pg_dump archives: whatever the chunking, it reads the
// entries pg_restore --list prints, field by field.
let server: SourceServer;
let archive: Buffer;
let listing: string;

before(async () => {
  server = await startSourceServer();
  const url = await seedSourceDatabase(server, 'toc');
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query(`create schema "two words"; create table "two words"."a.b ""c"" d" (id int primary key);
    insert into "two words"."a.b ""c"" d" values (1);
    create function "two words".f() returns text language sql as $$ select '${'x'.repeat(100_000)}' $$;`);
  await client.end();
  const { stdout } = await promisify(execFile)(
    path.join(SYSTEM_PG15_BIN, 'pg_dump'),
    ['-Fc', '--no-acl', '--no-owner', '--quote-all-identifiers', '--dbname', url],
    { encoding: 'buffer', maxBuffer: 256 * 1024 * 1024 },
  );
  archive = stdout;
  listing = await listArchive(archive);
});
after(() => server?.stop());

function read(chunkSize: number, bytes: Buffer = archive): ArchiveTocReader {
  const reader = new ArchiveTocReader();
  for (let at = 0; at < bytes.length; at += chunkSize) reader.push(bytes.subarray(at, at + chunkSize));
  return reader;
}

for (const size of [1, 7, 4096, 1 << 20]) {
  test(`reads every entry pg_restore --list prints, in chunks of ${size} bytes`, () => {
    const entries = read(size).entries();
    assert.ok(entries, 'the table of contents was read');
    const printed = listing.split('\n').filter((line) => /^\d+;/.test(line));
    const mine = new Set(entries.map(listingLine));
    for (const line of printed) assert.ok(mine.has(line), `missing: ${line}`);
    const table = entries.find((e) => e.desc === 'TABLE' && e.namespace === 'two words');
    assert.deepEqual([table?.namespace, table?.tag], ['two words', 'a.b "c" d']);
  });
}

test('gives up, and the listing is used, for what is not a readable archive', () => {
  assert.equal(read(4096, archive.subarray(0, 200)).entries(), null, 'cut inside the table of contents');
  assert.equal(read(4096, Buffer.from('PGDMP' + 'x'.repeat(100))).entries(), null, 'garbage');
  const newer = Buffer.from(archive);
  newer[6] = 99; // archive version 1.99
  assert.equal(read(4096, newer).entries(), null, 'a version it does not know');
  const older = Buffer.from(archive);
  older[6] = 13; // archive version 1.13: no table access method field, a layout it does not read
  assert.equal(read(4096, older).entries(), null, 'a version older than the layout it reads');
  assert.deepEqual(archiveContents(null, listing), parseContents(listing));
});

test('uses the fields only when they are the entries pg_restore read', () => {
  const entries = read(4096).entries()!;
  const fromToc = archiveContents(entries, listing);
  assert.ok(fromToc.entries.some((e) => e.schema === 'two words' && e.name === 'a.b "c" d' && e.hasData));
  const other = entries.map((e) => (e.desc === 'TABLE' ? { ...e, oid: e.oid + 1 } : e));
  assert.deepEqual(archiveContents(other, listing), parseContents(listing), 'a mismatch falls back to the listing');
});
