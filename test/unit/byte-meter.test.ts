import assert from 'node:assert/strict';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, test } from 'node:test';
import { ByteMeter } from '../../src/storage/byte-meter.ts';
import { assertValidKey } from '../../src/storage/keys.ts';
import { attachmentDisposition } from '../../src/storage/validate.ts';
import { rejectsWith } from '../support/object-store-contract.ts';
import { drain, generate, MiB, sha256 } from '../support/streams.ts';

describe('ByteMeter', () => {
  test('counts and hashes exactly the bytes that pass, re-chunked into 1 MiB pieces', async () => {
    const source = generate(3 * MiB + 123, { chunkSize: 11_000 });
    const meter = new ByteMeter();
    const sizes: number[] = [];
    meter.on('data', (chunk: Buffer) => sizes.push(chunk.byteLength));
    await pipeline(source.stream, meter);
    assert.equal(meter.bytesRead, 3 * MiB + 123);
    assert.equal(meter.sha256, source.produced().sha256);
    assert.deepEqual(sizes, [MiB, MiB, MiB, 123]);
  });

  test('passes on, uncopied, a chunk that owns a whole 1 MiB buffer, and copies views into larger buffers', async () => {
    const whole = Buffer.alloc(MiB, 1);
    const pooled = Buffer.alloc(3 * MiB, 2).subarray(MiB, 2 * MiB);
    const meter = new ByteMeter();
    const out: Buffer[] = [];
    meter.on('data', (chunk: Buffer) => out.push(chunk));
    await pipeline(Readable.from([whole, pooled]), meter);
    assert.equal(out.length, 2);
    assert.equal(out[0], whole, 'the same buffer');
    assert.notEqual(out[1]!.buffer, pooled.buffer, 'a copy: the view would keep its 3 MiB backing store alive');
    assert.ok(out[1]!.equals(pooled));
    assert.equal(meter.sha256, sha256(Buffer.concat([whole, pooled])));
  });

  test('fails with too_large as soon as the stream passes its limit', async () => {
    const meter = new ByteMeter({ maxBytes: 2 * MiB });
    const sink = new Writable({ write: (_chunk, _encoding, callback) => callback() });
    await rejectsWith(pipeline(generate(3 * MiB).stream, meter, sink), 'too_large');
    assert.ok(meter.bytesRead <= 2 * MiB);
  });

  test('passes a stream of exactly the limit', async () => {
    const meter = new ByteMeter({ maxBytes: MiB });
    const out = await drain(Readable.from([Buffer.alloc(MiB, 7)]).pipe(meter));
    assert.equal(out.bytes, MiB);
    assert.equal(meter.sha256, sha256(Buffer.alloc(MiB, 7)));
  });
});

describe('keys and names', () => {
  test('accepts the keys the engine builds', () => {
    assertValidKey('tenants/0b6c7e2a-4b8e-4f3c-9a53-2f9f1c0d7e11/b001/1.dump');
    assertValidKey('tenants/0b6c7e2a-4b8e-4f3c-9a53-2f9f1c0d7e11/a017/3.dump.zst');
  });

  test('builds a Content-Disposition that survives quotes, slashes and non-ASCII names', () => {
    assert.equal(attachmentDisposition('acme.dump'), `attachment; filename="acme.dump"; filename*=UTF-8''acme.dump`);
    assert.equal(
      attachmentDisposition('../a"b\r\n.dump'),
      `attachment; filename="..a_b.dump"; filename*=UTF-8''..a%22b.dump`,
    );
    assert.equal(
      attachmentDisposition('Müller.dump'),
      `attachment; filename="M_ller.dump"; filename*=UTF-8''M%C3%BCller.dump`,
    );
  });
});
