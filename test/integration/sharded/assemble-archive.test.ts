import test, { after, before, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { assembleShardedArchive, isVerificationFailure } from '../../../src/engine/index.ts';
import type { ShardPlan } from '../../../src/engine/sharded/types.ts';
import { readThroughShares } from '../../../src/engine/sharded/assemble-archive.ts';
import { dataEntries, parseArchiveHead } from '../../../src/engine/sharded/archive-head.ts';
import { layoutArchive } from '../../../src/engine/sharded/assembly.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { SYSTEM_PG15_BIN } from '../../../dev/db/local-cluster.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';
import { makePieces, type HandMadePieces } from '../../support/sharded-pieces.ts';
import { drain } from '../../support/streams.ts';
import {
  addBigTable,
  fingerprintDatabase,
  restoreArchive,
  seedSourceDatabase,
  startSourceServer,
  type SourceServer,
} from '../../support/seed-source.ts';

// The whole assembly on both drivers: pieces proven in storage, composed, read back once (digest,
// every piece's bytes, pg_restore --list and read-through), sealed; any failure leaves no archive.
const PG_RESTORE = path.join(SYSTEM_PG15_BIN, 'pg_restore');
let server: SourceServer;
let s3: TestS3Server;
let made: HandMadePieces;
let plan: ShardPlan;
let expected: Record<string, string>;
const folder = mkdtempSync(path.join(os.tmpdir(), 'bb-assemble-'));

before(async () => {
  server = await startSourceServer(SYSTEM_PG15_BIN, { tls: false });
  const url = await seedSourceDatabase(server, 'assemble');
  // Big enough that each of its three pieces is over 5 MiB compressed: copied server-side on S3.
  await addBigTable(server, 'assemble', 450_000);
  made = await makePieces(url, { parts: 3 });
  plan = {
    mode: 'sharded',
    modeReason: 'test',
    headBase64: made.stock.subarray(0, made.head.bytes).toString('base64'),
    archiveVersion: made.head.header.version,
    compressionLevel: 2,
    encoding: 'UTF8',
    serverVersion: made.head.header.serverVersion ?? '',
    serverMajor: 15,
    pgDumpVersion: made.head.header.pgDumpVersion ?? '',
    databaseBytes: 0,
    splitSizeBytes: 0,
    pieces: made.pieces,
  };
  expected = await fingerprintDatabase(await restoreArchive(server, 'from_stock', made.stock));
  s3 = await startS3Server();
});
after(async () => {
  await s3?.close();
  await server?.stop();
  rmSync(folder, { recursive: true, force: true });
});

async function storePieces(store: ObjectStore, results = made.results): Promise<void> {
  for (const result of results) {
    const stored = await store.upload(result.key, Readable.from([made.objects.get(result.key)!]));
    assert.equal(stored.sha256, result.sha256);
  }
}

for (const driver of ['file', 's3'] as const) {
  describe(`${driver} driver`, () => {
    let store: ObjectStore;
    before(async () => {
      store = await openObjectStore(
        driver === 'file' ? `file://${folder}/${driver}` : s3.url(driver, { part_size: '5MiB' }),
        driver === 'file' ? {} : s3.env,
      );
      await storePieces(store);
    });
    after(() => store.close());

    test('assembles, verifies and seals an archive that restores like stock pg_dump, keeping the pieces', async () => {
      s3.reset();
      const { stored, verified } = await assembleShardedArchive({
        store,
        plan,
        pieces: made.results,
        key: 'archives/1.dump',
        pgRestore: PG_RESTORE,
        metadata: { 'backup-id': 'b1' },
      });
      assert.equal(stored.bytes, verified.bytes);
      assert.equal(stored.sha256, verified.sha256);
      const head = await store.head('archives/1.dump');
      assert.equal(head?.manifest?.sha256, stored.sha256);
      assert.deepEqual(head?.manifest?.metadata, { 'backup-id': 'b1' });
      assert.ok(verified.tableCount >= 5);
      const chunks: Buffer[] = [];
      for await (const chunk of await store.read('archives/1.dump')) chunks.push(chunk as Buffer);
      const archive = Buffer.concat(chunks);
      assert.deepEqual(
        await fingerprintDatabase(await restoreArchive(server, `restored_${driver}`, archive)),
        expected,
      );
      for (const result of made.results) assert.equal((await store.head(result.key))?.bytes, result.bytes);
      if (driver === 's3') {
        const copied = s3.requests.filter((r) => r.operation === 'UploadPartCopy');
        assert.ok(copied.length >= 2, 'the big pieces were copied server-side');
        assert.ok(copied.every((r) => /\/pieces\/\d+\.piece$/.test(r.copySource ?? '')));
      }
    });

    test('a block pg_restore cannot inflate fails the verification, however many processes share the read-through', async () => {
      // Stored and sealed as recorded, but the record's Adler-32 is wrong: the composed block's zlib
      // trailer then fails pg_restore's check, which only a read-through of that block can see.
      const tableBlocks = made.results.filter((r) => plan.pieces.find((p) => p.no === r.no)?.kind === 'table');
      const victims = [tableBlocks[0]!, tableBlocks.at(-1)!];
      for (const processes of [1, 2, 3]) {
        for (const victim of victims) {
          const pieces = made.results.map((r) => (r === victim ? { ...r, adler32: (r.adler32 + 1) >>> 0 } : r));
          const key = `archives/bad-${processes}-${victim.no}.dump`;
          await assert.rejects(
            assembleShardedArchive({
              store,
              plan,
              pieces,
              key,
              pgRestore: PG_RESTORE,
              readThroughProcesses: processes,
            }),
            (error: unknown) =>
              isVerificationFailure(error) && /pg_restore could not read the archive through/.test(error.message),
            `piece ${victim.no} with ${processes} process(es)`,
          );
          assert.equal(await store.head(key), null, 'the composed archive is removed');
        }
      }
      assert.deepEqual(await store.listIncompleteUploads('archives/'), []);
    });

    test('refuses a missing piece before composing anything, naming it', async () => {
      const missing = made.results.find((r) => r.no === 2)!;
      await assert.rejects(
        assembleShardedArchive({
          store,
          plan,
          pieces: made.results.filter((r) => r !== missing),
          key: 'archives/2.dump',
          pgRestore: PG_RESTORE,
        }),
        (error: unknown) =>
          isVerificationFailure(error) && error.detail.pieceNo === 2 && /has not finished/.test(error.message),
      );
      const other = { ...missing, key: 'pieces/elsewhere.piece' };
      await assert.rejects(
        assembleShardedArchive({
          store,
          plan,
          pieces: made.results.map((r) => (r === missing ? other : r)),
          key: 'archives/2.dump',
          pgRestore: PG_RESTORE,
        }),
        (error: unknown) =>
          isVerificationFailure(error) && error.detail.pieceNo === 2 && /missing from storage/.test(error.message),
      );
      assert.equal(await store.head('archives/2.dump'), null);
    });

    test('finds a piece whose stored bytes differ from its record while reading the archive back, and removes the archive', async () => {
      // Same size and the recorded digest in its manifest, but one byte changed: only the read-back can tell.
      const victim = [...made.results].sort((a, b) => b.bytes - a.bytes)[0]!;
      const bytes = Buffer.from(made.objects.get(victim.key)!);
      bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
      const key = `tampered/${victim.no}.piece`;
      await store.compose(key, [bytes]);
      await store.seal(key, { bytes: victim.bytes, sha256: victim.sha256 });
      const pieces = made.results.map((r) => (r === victim ? { ...r, key } : r));
      await assert.rejects(
        assembleShardedArchive({ store, plan, pieces, key: 'archives/3.dump', pgRestore: PG_RESTORE }),
        (error: unknown) => isVerificationFailure(error) && error.detail.pieceNo === victim.no,
      );
      assert.equal(await store.head('archives/3.dump'), null, 'the composed archive is removed');
      assert.deepEqual(await store.listIncompleteUploads('archives/'), []);
      assert.equal((await drain(await store.read(made.results[0]!.key))).bytes, made.results[0]!.bytes, 'pieces stay');
    });
  });
}

test('the read-through shares hold every data entry once, each share reading the head and then its blocks in order', () => {
  const head = parseArchiveHead(made.stock.subarray(0, made.head.bytes));
  const layout = layoutArchive({ head, pieces: plan.pieces, results: made.results, level: 2 });
  const entries = dataEntries(head).map((e) => e.dumpId);
  assert.deepEqual(readThroughShares(head, layout, plan.pieces, made.results, 1), [], 'one process: no shares');
  for (const processes of [2, 3, 64]) {
    const shares = readThroughShares(head, layout, plan.pieces, made.results, processes);
    assert.equal(shares.length, Math.min(processes, entries.length));
    assert.deepEqual(
      shares.flatMap((s) => s.dumpIds).sort((a, b) => a - b),
      [...entries].sort((a, b) => a - b),
    );
    for (const share of shares) {
      assert.equal(share.ranges[0]!.start, 0);
      assert.ok(share.ranges[0]!.end >= layout.head.length - 1, 'the head is read first');
      const blocks = share.dumpIds.map((id) => layout.offsets.get(id)!);
      assert.deepEqual(
        blocks,
        [...blocks].sort((a, b) => a - b),
        'its entries in the archive order',
      );
      for (const offset of blocks)
        assert.ok(
          share.ranges.some((r) => r.start <= offset && offset <= r.end),
          `block at ${offset} is read`,
        );
      for (let i = 1; i < share.ranges.length; i++) assert.ok(share.ranges[i]!.start > share.ranges[i - 1]!.end + 1);
      assert.ok(share.ranges.at(-1)!.end < layout.bytes);
    }
  }
});
