import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AssemblyError, layoutArchive } from '../../../src/engine/sharded/assembly.ts';
import { parseDatabaseUrl, writePasswordFile } from '../../../src/engine/index.ts';
import { SYSTEM_PG15_BIN } from '../../../dev/db/local-cluster.ts';
import { makePieces, type HandMadePieces } from '../../support/sharded-pieces.ts';
import {
  createDatabase,
  fingerprintDatabase,
  listArchive,
  restoreArchive,
  seedSourceDatabase,
  startSourceServer,
  type SourceServer,
} from '../../support/seed-source.ts';

// Pieces compressed apart (by hand here, as the capture's piece dumper does) joined by the layout
// into one archive that stock pg_restore takes from a file in parallel and from stdin.
let server: SourceServer;
let made: HandMadePieces;
const folder = mkdtempSync(path.join(os.tmpdir(), 'bb-assembly-'));

before(async () => {
  server = await startSourceServer(SYSTEM_PG15_BIN, { tls: false });
  const url = await seedSourceDatabase(server, 'assembly');
  await server.run(
    'assembly',
    `create table public.empty (x int); create table "Quoted ""T""" ("a b" int, c text);
    insert into "Quoted ""T""" select i, repeat('é', i % 50) from generate_series(1, 3000) i;`,
  );
  made = await makePieces(url, { parts: 3 });
});
after(async () => {
  await server?.stop();
  rmSync(folder, { recursive: true, force: true });
});

function join(layout: ReturnType<typeof layoutArchive>): Buffer {
  return Buffer.concat(
    layout.segments.map((s) => (Buffer.isBuffer(s) ? s : made.objects.get(s.key)!.subarray(s.start, s.end + 1))),
  );
}

test('joins the pieces into an archive that pg_restore -j 2 and pg_restore from stdin restore like stock pg_dump', async () => {
  const layout = layoutArchive({ head: made.head, pieces: made.pieces, results: made.results, level: 2 });
  const archive = join(layout);
  assert.equal(archive.length, layout.bytes);
  const file = path.join(folder, 'joined.dump');
  writeFileSync(file, archive);

  const lines = (listing: string) => listing.split('\n').filter((l) => /^\d+;/.test(l));
  assert.deepEqual(lines(await listArchive(archive)), lines(await listArchive(made.stock)));

  const expected = await fingerprintDatabase(await restoreArchive(server, 'from_stock', made.stock));
  assert.deepEqual(await fingerprintDatabase(await restoreArchive(server, 'from_stdin', archive)), expected);

  const url = await createDatabase(server, 'from_file_j2');
  const passwordFile = await writePasswordFile(parseDatabaseUrl(url));
  try {
    await promisify(execFile)(
      path.join(SYSTEM_PG15_BIN, 'pg_restore'),
      [
        '-j',
        '2',
        '--no-owner',
        '--no-acl',
        '--exit-on-error',
        '--host=127.0.0.1',
        `--port=${server.cluster.port}`,
        '--username=postgres',
        '--dbname=from_file_j2',
        '-w',
        file,
      ],
      { env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: passwordFile.path } },
    );
  } finally {
    await passwordFile.remove();
  }
  assert.deepEqual(await fingerprintDatabase(url), expected);
  assert.ok(expected['table public.customers']?.startsWith('2000:'));
  assert.ok(expected['large objects']?.startsWith('2:'));
  assert.equal(expected['table public.empty'], '0:null');
});

test('each offset points at its own block, and the layout names every piece object whole, in part order', () => {
  const layout = layoutArchive({ head: made.head, pieces: made.pieces, results: made.results, level: 2 });
  const archive = join(layout);
  for (const [dumpId, offset] of layout.offsets) {
    assert.ok([1, 3].includes(archive[offset]!));
    assert.equal(archive.readUInt32LE(offset + 2), dumpId);
  }
  const ranges = layout.segments.filter((s) => !Buffer.isBuffer(s)) as { key: string; start: number; end: number }[];
  assert.equal(ranges.length, made.results.length);
  assert.deepEqual(
    ranges.map((r) => r.key),
    [...made.results].sort((a, b) => a.no - b.no).map((r) => r.key),
  );
});

test('refuses to lay out an archive with a piece missing, a part missing, or a piece of no entry', () => {
  const { head, pieces, results } = made;
  assert.throws(
    () => layoutArchive({ head, pieces, results: results.slice(1), level: 2 }),
    (e: unknown) => e instanceof AssemblyError && /piece 0 .* has not finished/.test(e.message),
  );
  const firstTable = pieces[0]!.dumpId;
  assert.throws(
    () =>
      layoutArchive({
        head,
        pieces: pieces.filter((p) => !(p.dumpId === firstTable && p.part === 1)),
        results,
        level: 2,
      }),
    /are not parts 0 to/,
  );
  assert.throws(
    () => layoutArchive({ head, pieces: pieces.filter((p) => p.dumpId !== firstTable), results, level: 2 }),
    /has no piece/,
  );
  assert.throws(
    () => layoutArchive({ head, pieces: [...pieces, { ...pieces[0]!, no: 999, dumpId: 1 }], results, level: 2 }),
    /no data block/,
  );
});
