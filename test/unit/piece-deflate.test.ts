import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import { adler32, adler32Combine } from '../../src/engine/sharded/adler32.ts';
import { MAX_CHUNK_BYTES, unframeChunks } from '../../src/engine/sharded/archive-chunks.ts';
import { createLargeObjectDeflate, createPieceDeflate } from '../../src/engine/sharded/piece-deflate.ts';

/** zlib's own Adler-32 of `data`: the trailer of a zlib stream. */
function zlibAdler(data: Buffer): number {
  const stream = zlib.deflateSync(data, { level: 1 });
  return stream.readUInt32BE(stream.length - 4);
}

function rows(count: number, seed = 0): Buffer {
  const lines: string[] = [];
  for (let i = 0; i < count; i++)
    lines.push(`${seed + i}\tcustomer ${(seed + i) % 97}\t${(i * 1.37).toFixed(2)}\t\\N\n`);
  return Buffer.from(lines.join(''));
}

async function compress(input: Buffer[], level = 2, outputBytes?: number) {
  const deflate = createPieceDeflate({ level, ...(outputBytes ? { outputBytes } : {}) });
  const out: Buffer[] = [];
  await pipeline(Readable.from(input), deflate, async (source: AsyncIterable<Buffer>) => {
    for await (const chunk of source) out.push(chunk);
  });
  const stored = Buffer.concat(out);
  return { stored, rawBytes: deflate.rawBytes, adler32: deflate.adler32, bytes: deflate.bytes };
}

test('computes the Adler-32 zlib computes, in one go or continued across any split', () => {
  for (const data of [
    Buffer.alloc(0),
    Buffer.from('a'),
    randomBytes(5551),
    randomBytes(5553),
    Buffer.alloc(100_000, 0xff),
    randomBytes(300_001),
  ]) {
    assert.equal(adler32(data), zlibAdler(data), `${data.length} bytes`);
    const cut = Math.floor(data.length / 3);
    assert.equal(adler32(data.subarray(cut), adler32(data.subarray(0, cut))), zlibAdler(data));
  }
});

test("combines two checksums into the whole's, as zlib's adler32_combine does", () => {
  for (const [a, b] of [
    [0, 0],
    [0, 10],
    [10, 0],
    [1, 65521],
    [70_000, 140_000],
    [5552, 3],
  ] as const) {
    const first = randomBytes(a);
    const second = b === 65521 ? Buffer.alloc(b, 0xff) : randomBytes(b);
    assert.equal(adler32Combine(adler32(first), adler32(second), b), zlibAdler(Buffer.concat([first, second])));
  }
});

test('pieces compressed apart join into one zlib stream that inflates to their concatenation', async () => {
  const inputs = [rows(20_000), Buffer.alloc(0), rows(1, 20_000), randomBytes(300_000), rows(50_000, 30_000)];
  // Small output buffers: zlib's last outputs (the final block and trailer that are cut) arrive apart.
  for (const [level, outputBytes] of [[1], [2], [6], [9], [2, 1024]] as const) {
    const pieces = await Promise.all(
      inputs.map((input) => compress([input.subarray(0, 7), input.subarray(7)], level, outputBytes)),
    );
    let adler = 1;
    const deflated: Buffer[] = [];
    for (const [i, piece] of pieces.entries()) {
      assert.equal(piece.rawBytes, inputs[i]!.length);
      assert.equal(piece.adler32, adler32(inputs[i]!));
      assert.equal(piece.bytes, piece.stored.length);
      const { payload, terminated } = unframeChunks(piece.stored);
      assert.equal(terminated, false, 'a piece never holds a zero-length chunk');
      assert.deepEqual(payload.subarray(-4), Buffer.from([0, 0, 0xff, 0xff]), 'each piece ends with a sync flush');
      deflated.push(payload);
      adler = adler32Combine(adler, piece.adler32, piece.rawBytes);
    }
    const trailer = Buffer.alloc(4);
    trailer.writeUInt32BE(adler);
    const joined = Buffer.concat([Buffer.from([0x78, 0x5e]), ...deflated, Buffer.from([0x03, 0x00]), trailer]);
    assert.deepEqual(zlib.inflateSync(joined), Buffer.concat(inputs), `level ${level}`);
  }
});

test('an empty piece still ends on a byte boundary and joins; one empty table joins to nothing', async () => {
  const empty = await compress([]);
  assert.equal(empty.rawBytes, 0);
  assert.equal(empty.adler32, 1);
  const { payload } = unframeChunks(empty.stored);
  const joined = Buffer.concat([Buffer.from([0x78, 0x5e]), payload, Buffer.from([0x03, 0x00, 0, 0, 0, 1])]);
  assert.deepEqual(zlib.inflateSync(joined), Buffer.alloc(0));
});

test('keeps chunks within 1 MiB on incompressible input, and a slow reader bounds what is buffered', async () => {
  const deflate = createPieceDeflate({ level: 1 });
  const source = Readable.from(
    (function* () {
      for (let i = 0; i < 64; i++) yield randomBytes(256 * 1024);
    })(),
  );
  source.pipe(deflate);
  let stored = Buffer.alloc(0);
  let maxBuffered = 0;
  for await (const chunk of deflate) {
    maxBuffered = Math.max(maxBuffered, deflate.readableLength + deflate.writableLength);
    stored = Buffer.concat([stored, chunk as Buffer]);
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(maxBuffered < 4 * MAX_CHUNK_BYTES, `buffered ${maxBuffered}`);
  const { payload } = unframeChunks(stored);
  for (let at = 0; at < stored.length;) {
    const length = stored.readUInt32LE(at + 1);
    assert.ok(length > 0 && length <= MAX_CHUNK_BYTES);
    at += 5 + length;
  }
  assert.equal(deflate.rawBytes, 16 * 1024 * 1024);
  assert.equal(zlib.inflateRawSync(payload, { finishFlush: zlib.constants.Z_SYNC_FLUSH }).length, 16 * 1024 * 1024);
});

test("frames one large object as pg_dump does: its oid, a complete zlib stream's chunks, then a zero", async () => {
  for (const [oid, content] of [
    [16_385, rows(3000)],
    [0xfffffff0, Buffer.alloc(0)],
  ] as const) {
    const deflate = createLargeObjectDeflate({ oid, level: 2 });
    const out: Buffer[] = [];
    await pipeline(Readable.from([content]), deflate, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
    const bytes = Buffer.concat(out);
    assert.equal((bytes.readUInt32LE(1) * (bytes[0] ? -1 : 1)) >>> 0, oid, 'the oid, as a C int');
    const { payload, end, terminated } = unframeChunks(bytes, 5);
    assert.ok(terminated && end === bytes.length);
    assert.deepEqual(payload.subarray(0, 2), Buffer.from([0x78, 0x5e]));
    assert.deepEqual(zlib.inflateSync(payload), content);
  }
});

test('refuses a level pg_dump does not join with', () => {
  assert.throws(() => createPieceDeflate({ level: 0 }), /not 1–9/);
  assert.throws(() => createLargeObjectDeflate({ level: 2, oid: 0 }), /oid/);
});

test('frees each input chunk once zlib took it only when it owns its input, and compresses the same either way', async () => {
  const input = () => [Buffer.from(rows(5000)), Buffer.from(rows(5000, 5000))];
  const run = async (ownsInput: boolean) => {
    const chunks = input();
    const deflate = createPieceDeflate({ level: 2, ownsInput });
    const out: Buffer[] = [];
    await pipeline(Readable.from(chunks), deflate, async (source: AsyncIterable<Buffer>) => {
      for await (const chunk of source) out.push(chunk);
    });
    return { chunks, stored: Buffer.concat(out), adler32: deflate.adler32 };
  };
  const owned = await run(true);
  const lent = await run(false);
  assert.ok(
    owned.chunks.every((c) => c.length === 0 && c.buffer.detached),
    'owned chunks are freed',
  );
  assert.ok(
    lent.chunks.every((c) => c.length > 0),
    'lent chunks are left alone',
  );
  assert.deepEqual(owned.stored, lent.stored);
  assert.equal(owned.adler32, lent.adler32);
});
