import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import {
  archiveCompression,
  archiveEncoding,
  ArchiveHeadReader,
  dataEntries,
  OFFSET_NO_DATA,
  OFFSET_NOT_SET,
  OFFSET_SET,
  parseArchiveHead,
  writeArchiveHead,
} from '../../../src/engine/sharded/archive-head.ts';
import { startSourceServer, seedSourceDatabase, type SourceServer } from '../../support/seed-source.ts';
import { SYSTEM_PG15_BIN } from '../../../dev/db/local-cluster.ts';

// The head parser and writer against pg_dump 15's own output: the same database dumped to a pipe
// (offsets not set) and to a file (offsets set, the TOC rewritten by pg_dump at the end).
let server: SourceServer;
let piped: Buffer;
let filed: Buffer;
const folder = mkdtempSync(path.join(os.tmpdir(), 'bb-head-'));
const FLAGS = ['-Fc', '--compress=2', '--no-acl', '--no-owner', '--quote-all-identifiers', '--verbose'];

before(async () => {
  server = await startSourceServer(SYSTEM_PG15_BIN, { tls: false });
  const url = await seedSourceDatabase(server, 'head');
  await server.run(
    'head',
    `create schema "two words"; create table "two words"."a.b ""c"" d" (id int primary key);
     insert into "two words"."a.b ""c"" d" values (1); create table public.empty (x int);
     create table public.gen (a int, b int generated always as (a * 2) stored); insert into public.gen values (1), (2);`,
  );
  const pgDump = path.join(SYSTEM_PG15_BIN, 'pg_dump');
  const run = promisify(execFile);
  piped = (await run(pgDump, [...FLAGS, '--dbname', url], { encoding: 'buffer', maxBuffer: 1 << 28 })).stdout;
  await run(pgDump, [...FLAGS, '--file', path.join(folder, 'a.dump'), '--dbname', url]);
  filed = readFileSync(path.join(folder, 'a.dump'));
});
after(async () => {
  await server?.stop();
  rmSync(folder, { recursive: true, force: true });
});

test('reads the whole head of a piped dump and writes it back byte for byte', () => {
  const head = parseArchiveHead(piped);
  assert.ok(head.bytes < piped.length);
  assert.deepEqual(writeArchiveHead(head), piped.subarray(0, head.bytes));
  assert.equal(head.header.version, '1.14');
  assert.equal(head.header.intSize, 4);
  assert.equal(head.header.offSize, 8);
  assert.equal(head.header.databaseName, 'head');
  assert.match(head.header.pgDumpVersion ?? '', /^15\./);
  assert.deepEqual(archiveCompression(head), { algorithm: 'gzip', level: 2 });
  assert.equal(archiveEncoding(head), 'UTF8');
  // The first data block starts right after the head: a block-type byte 1 (table data) or 3 (large objects).
  assert.ok([1, 3].includes(piped[head.bytes]!));
  for (const entry of head.entries)
    assert.equal(entry.dataState, entry.hadDumper ? OFFSET_NOT_SET : OFFSET_NO_DATA, `entry ${entry.dumpId}`);
});

test('keeps every field: definitions, copy statements, dependencies, quoted and non-ASCII names', () => {
  const head = parseArchiveHead(piped);
  const data = dataEntries(head);
  const quoted = data.find((d) => d.namespace === 'two words');
  assert.equal(quoted?.tag, 'a.b "c" d');
  assert.equal(quoted?.copyStmt, 'COPY "two words"."a.b ""c"" d" ("id") FROM stdin;\n');
  assert.equal(data.find((d) => d.tag === 'gen')?.copyStmt, 'COPY "public"."gen" ("a") FROM stdin;\n');
  assert.ok(data.some((d) => d.namespace === 'Ünïcödé' && d.tag === 'Ñandú ☃'));
  const blobs = data.filter((d) => d.kind === 'large_objects');
  assert.equal(blobs.length, 1);
  const table = head.entries.find((e) => e.desc === 'TABLE' && e.tag === 'gen');
  assert.match(table?.defn ?? '', /GENERATED ALWAYS AS/);
  assert.match(table?.dropStmt ?? '', /^DROP TABLE "public"."gen";/);
  assert.equal(table?.tableam, 'heap');
  assert.equal(table?.withOids, 'false');
  const gen = data.find((d) => d.tag === 'gen')!;
  assert.equal(Number(head.entries.find((e) => e.dumpId === gen.dumpId)?.tableOid), 0);
  assert.equal(gen.oid, Number(table?.oid));
  assert.deepEqual(head.entries.find((e) => e.dumpId === gen.dumpId)?.deps, [String(table?.dumpId)]);
});

test("with the file dump's offsets, writes exactly the head pg_dump wrote to the file", () => {
  const fromPipe = parseArchiveHead(piped);
  const fromFile = parseArchiveHead(filed);
  assert.equal(fromPipe.bytes, fromFile.bytes, "the head's length does not depend on the offsets");
  assert.deepEqual(writeArchiveHead(fromFile), filed.subarray(0, fromFile.bytes));
  const offsets = new Map(
    fromFile.entries.filter((e) => e.dataState === OFFSET_SET).map((e) => [e.dumpId, e.dataOffset]),
  );
  assert.equal(offsets.size, dataEntries(fromFile).length);
  const rewritten = writeArchiveHead(
    { ...fromPipe, header: { ...fromPipe.header, createdAt: fromFile.header.createdAt } },
    offsets,
  );
  assert.deepEqual(rewritten, filed.subarray(0, fromFile.bytes));
  // Every offset points at its own block: type byte, then the dumpId.
  for (const [dumpId, offset] of offsets) {
    assert.ok([1, 3].includes(filed[offset]!));
    assert.equal(filed.readInt32LE(offset + 2), dumpId);
  }
});

test('read in any chunking, says where the head ends and keeps the bytes after it', () => {
  const whole = parseArchiveHead(piped);
  for (const size of [1, 13, 4096]) {
    const reader = new ArchiveHeadReader();
    let head = null;
    let at = 0;
    for (; at < piped.length && head === null; at += size) head = reader.push(piped.subarray(at, at + size));
    assert.ok(head);
    assert.equal(head.bytes, whole.bytes);
    assert.ok(at - size < whole.bytes + 1, 'stopped at the chunk that completed the head');
    assert.deepEqual(reader.rest, piped.subarray(whole.bytes, at));
  }
});

test('refuses what is not a head it reads, and never claims a cut head is complete', () => {
  const head = parseArchiveHead(piped);
  assert.equal(new ArchiveHeadReader().push(piped.subarray(0, head.bytes - 1)), null);
  assert.throws(() => parseArchiveHead(Buffer.from('PGDMX' + 'x'.repeat(100))), /not a custom-format archive/);
  const newer = Buffer.from(piped);
  newer[6] = 17;
  assert.throws(() => parseArchiveHead(newer), /archive version 1.17/);
  assert.throws(() => writeArchiveHead(head, new Map([[head.entries[0]!.dumpId, 10]])), /no data block/);
});

test('writes and reads archive 1.15 and 1.16 heads (an algorithm byte; relkind per entry) symmetrically', () => {
  const head = parseArchiveHead(piped);
  for (const minor of [15, 16]) {
    const newer = {
      ...head,
      header: { ...head.header, versionMinor: minor, version: `1.${minor}`, compressionField: 1 },
      entries: head.entries.map((e) => ({ ...e, relkind: minor === 16 ? 114 : null })),
    };
    const bytes = writeArchiveHead(newer);
    const back = parseArchiveHead(bytes);
    assert.equal(back.bytes, bytes.length);
    assert.deepEqual(writeArchiveHead(back), bytes);
    assert.deepEqual(back.entries, newer.entries);
    assert.deepEqual(archiveCompression(back), { algorithm: 'gzip', level: null });
  }
});
