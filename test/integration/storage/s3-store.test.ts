import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';
import { objectStoreContract, rejectsWith } from '../../support/object-store-contract.ts';
import { drain, generate, knownBytes, MiB, sha256 } from '../../support/streams.ts';

objectStoreContract('S3 driver', async () => {
  const server = await startS3Server();
  const store = await openObjectStore(server.url('contract', { part_size: '5MiB' }), server.env);
  return {
    store,
    teardown: async () => {
      await store.close();
      await server.close();
    },
  };
});

describe('S3 driver', () => {
  let server: TestS3Server;
  const stores: ObjectStore[] = [];
  async function open(options: Record<string, string> = {}): Promise<ObjectStore> {
    const store = await openObjectStore(server.url('backups', { part_size: '5MiB', ...options }), server.env);
    stores.push(store);
    return store;
  }
  before(async () => {
    server = await startS3Server();
  });
  beforeEach(() => server.reset());
  after(async () => {
    for (const store of stores) await store.close();
    await server.close();
  });

  function operations(name: string): number[] {
    return server.requests.filter((r) => r.operation === name).map((r) => r.partNumber ?? 0);
  }

  async function assertNothingAt(store: ObjectStore, prefix: string): Promise<void> {
    assert.deepEqual(await store.list(prefix), [], 'no object');
    assert.deepEqual(await store.listIncompleteUploads(prefix), [], 'ListMultipartUploads is empty');
  }

  test('aborts the multipart upload when a part keeps failing', async () => {
    const store = await open({ max_attempts: '3' });
    server.faults = { failUploadPart: 2 };
    const error = await rejectsWith(store.upload('part-fails/1.dump', generate(30 * MiB).stream), 'store_failed');
    assert.match(error.message, /part 2/);
    assert.equal(operations('UploadPart').filter((n) => n === 2).length, 3, 'the SDK retried part 2 before giving up');
    const abortAt = server.requests.findIndex((r) => r.operation === 'AbortMultipartUpload');
    assert.ok(abortAt >= 0, 'AbortMultipartUpload was sent');
    assert.ok(
      !server.requests.slice(abortAt).some((r) => r.operation === 'UploadPart'),
      'no part is uploaded after the abort',
    );
    assert.equal(operations('CompleteMultipartUpload').length, 0);
    await assertNothingAt(store, 'part-fails/');
  });

  test('a lean upload sends parts of 5 MiB whatever the store part size, and stores the same bytes', async () => {
    const store = await open({ part_size: '16MiB', queue_size: '4' });
    const lean = generate(24 * MiB);
    const leanResult = await store.upload('lean/1.dump', lean.stream, { sizeEstimate: 24 * MiB, lean: true });
    assert.equal(leanResult.sha256, lean.produced().sha256);
    await store.upload('lean/2.dump', generate(24 * MiB).stream, { sizeEstimate: 24 * MiB });
    const parts = (key: string) =>
      server.requests
        .filter((r) => r.operation === 'UploadPart' && r.key.endsWith(key))
        .map((r) => r.bytes ?? 0)
        .sort((a, b) => b - a);
    assert.deepEqual(
      parts('lean/1.dump'),
      [5, 5, 5, 5, 4].map((n) => n * MiB),
    );
    assert.deepEqual(
      parts('lean/2.dump'),
      [16, 8].map((n) => n * MiB),
    );
    assert.equal((await drain(await store.read('lean/1.dump'))).sha256, leanResult.sha256);
  });

  test('an upload that outgrows a small size estimate still stores every byte, in whole parts', async () => {
    const store = await open();
    for (const [key, size] of [
      ['small/1.dump', 100 * 1024],
      ['small/2.dump', 7 * MiB + 3],
    ] as const) {
      const source = generate(size);
      const result = await store.upload(key, source.stream, { sizeEstimate: 64 * 1024 });
      assert.equal(result.bytes, size);
      assert.equal(result.sha256, source.produced().sha256);
      assert.equal((await drain(await store.read(key))).sha256, result.sha256);
    }
    assert.ok(server.requests.some((r) => r.operation === 'PutObject' && r.key.endsWith('small/1.dump')));
    const parts = server.requests.filter((r) => r.operation === 'UploadPart' && r.key.endsWith('small/2.dump'));
    assert.deepEqual(
      parts.map((r) => r.bytes).sort((a, b) => (b ?? 0) - (a ?? 0)),
      [5 * MiB, 2 * MiB + 3],
    );
  });

  test('sends a CRC32 checksum with every part and the single PUT when the checksum mode is when_supported', async () => {
    const store = await open({ checksum: 'when_supported' });
    const source = generate(12 * MiB);
    const result = await store.upload('crc/1.dump', source.stream, { sizeEstimate: 12 * MiB });
    assert.equal(result.sha256, source.produced().sha256);
    const parts = server.requests.filter((r) => r.operation === 'UploadPart' && r.key.endsWith('crc/1.dump'));
    assert.equal(parts.length, 3);
    assert.ok(
      parts.every((r) => /^[A-Za-z0-9+/]{6}==$/.test(r.checksumCrc32 ?? '')),
      JSON.stringify(parts),
    );
    await store.upload('crc/2.dump', generate(MiB).stream);
    const put = server.requests.find((r) => r.operation === 'PutObject' && r.key.endsWith('crc/2.dump'));
    assert.match(put?.checksumCrc32 ?? '', /^[A-Za-z0-9+/]{6}==$/);
    // With when_required (for stores that reject flexible checksums), none are sent.
    const plain = await open();
    await plain.upload('crc/3.dump', generate(12 * MiB).stream, { sizeEstimate: 12 * MiB });
    assert.ok(server.requests.filter((r) => r.key.endsWith('crc/3.dump')).every((r) => r.checksumCrc32 === undefined));
  });

  test('rejects a completed upload whose stored object is shorter than the bytes sent', async () => {
    const store = await open();
    server.faults = { afterComplete: 'truncate' };
    await rejectsWith(store.upload('short/1.dump', generate(12 * MiB).stream), 'size_mismatch');
    await assertNothingAt(store, 'short/');
  });

  test('rejects a completed upload whose object is missing afterwards', async () => {
    const store = await open();
    server.faults = { afterComplete: 'delete' };
    await rejectsWith(store.upload('vanished/1.dump', generate(12 * MiB).stream), 'missing_after_complete');
    await assertNothingAt(store, 'vanished/');
  });

  test('rejects a CompleteMultipartUpload that answers 200 with an error and aborts the upload', async () => {
    const store = await open({ max_attempts: '2' });
    server.faults = { completeAnswersErrorIn200: true };
    await rejectsWith(store.upload('error-200/1.dump', generate(12 * MiB).stream), 'store_failed');
    assert.ok(operations('AbortMultipartUpload').length > 0);
    await assertNothingAt(store, 'error-200/');
  });

  test('refuses before sending anything when no part size can fit the estimate', async () => {
    const store = await open();
    const source = generate(MiB);
    await rejectsWith(store.upload('huge/1.dump', source.stream, { sizeEstimate: 40 * 1024 ** 4 }), 'too_large');
    assert.deepEqual(server.requests, []);
    assert.ok(source.stream.destroyed);
  });

  test('stops a stream that outgrows the part limit before asking for part maxParts + 1', async () => {
    // 3 parts of 5 MiB carry at most 15 MiB; the stream is 40 MiB.
    const store = await open({ max_parts: '3' });
    const error = await rejectsWith(
      store.upload('outgrown/1.dump', generate(40 * MiB).stream, { sizeEstimate: 8 * MiB }),
      'too_large',
    );
    assert.match(error.message, /3 parts of 5 MiB/);
    assert.ok(Math.max(0, ...operations('UploadPart')) <= 3, `parts sent: ${operations('UploadPart').join(',')}`);
    assert.ok(operations('AbortMultipartUpload').length > 0);
    await assertNothingAt(store, 'outgrown/');
  });

  test('fails closed when SSE-KMS is requested and the store ignores it', async () => {
    const store = await open({ sse: 'aws:kms', sse_kms_key_id: 'key-1234' });
    const error = await rejectsWith(store.upload('plain/1.dump', generate(12 * MiB).stream), 'encryption_not_honoured');
    assert.match(error.message, /aws:kms/);
    assert.deepEqual(operations('UploadPart'), [], 'not one part is sent unencrypted');
    await assertNothingAt(store, 'plain/');
  });

  test('fails closed and deletes a single-part object when SSE is requested and the store ignores it', async () => {
    const store = await open({ sse: 'AES256' });
    await rejectsWith(
      store.upload('plain-small/1.dump', Readable.from([Buffer.from('small dump')])),
      'encryption_not_honoured',
    );
    await assertNothingAt(store, 'plain-small/');
  });

  test('stores with SSE-KMS when the store honours it, and head shows the key', async () => {
    const store = await open({ sse: 'aws:kms', sse_kms_key_id: 'arn:aws:kms:us-east-1:111122223333:key/key-1234' });
    server.faults = { honourSse: true };
    const result = await store.upload('kms/1.dump', generate(12 * MiB).stream);
    const head = await store.head(result.key);
    assert.deepEqual(head?.encryption, {
      algorithm: 'aws:kms',
      kmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/key-1234',
    });
    const raw = await server.client().send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'backups/kms/1.dump' }));
    assert.equal(raw.ServerSideEncryption, 'aws:kms');
  });

  test('fails closed when the store encrypts with another KMS key', async () => {
    const store = await open({ sse: 'aws:kms', sse_kms_key_id: 'key-1234' });
    server.faults = { honourSse: true, answerKmsKeyId: 'arn:aws:kms:us-east-1:111122223333:key/other-key' };
    const error = await rejectsWith(
      store.upload('kms-other/1.dump', generate(12 * MiB).stream),
      'encryption_not_honoured',
    );
    assert.match(error.message, /other-key/);
    await assertNothingAt(store, 'kms-other/');
  });

  test('presigns a GET that downloads the object as an attachment', async () => {
    const store = await open();
    const result = await store.upload('links/1.dump', generate(2 * MiB).stream);
    const url = await store.presignGet(result.key, { expiresInSeconds: 300, filename: 'acme b001 "2026".dump' });
    assert.ok(url !== null);
    assert.match(url, /X-Amz-Expires=300/);
    const response = await fetch(url);
    assert.equal(response.status, 200);
    assert.equal(
      response.headers.get('content-disposition'),
      `attachment; filename="acme b001 _2026_.dump"; filename*=UTF-8''acme%20b001%20%222026%22.dump`,
    );
    const body = await drain(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream));
    assert.equal(body.sha256, result.sha256);
  });

  test('lists and aborts the multipart uploads and unsealed objects a crash left behind', async () => {
    const store = await open();
    const client = server.client();
    const created = await client.send(
      new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: 'backups/crash/1.dump' }),
    );
    await client.send(
      new UploadPartCommand({
        Bucket: server.bucket,
        Key: 'backups/crash/1.dump',
        UploadId: created.UploadId,
        PartNumber: 1,
        Body: Buffer.alloc(5 * MiB),
      }),
    );
    await client.send(
      new PutObjectCommand({ Bucket: server.bucket, Key: 'backups/crash/2.dump', Body: 'completed, never sealed' }),
    );

    const incomplete = await store.listIncompleteUploads('crash/');
    assert.deepEqual(
      incomplete.map((u) => [u.key, u.uploadId]),
      [['crash/1.dump', created.UploadId]],
    );
    assert.ok(incomplete[0]!.initiated.getTime() > Date.now() - 60_000);
    assert.deepEqual(
      (await store.list('crash/')).map((o) => [o.key, o.sealed]),
      [['crash/2.dump', false]],
    );

    await store.abortIncompleteUpload(incomplete[0]!);
    await store.abortIncompleteUpload(incomplete[0]!);
    assert.deepEqual(await store.listIncompleteUploads('crash/'), []);
  });

  test('keeps every key under the URL prefix', async () => {
    const store = await open();
    await store.upload('prefixed/1.dump', Readable.from([Buffer.from('x')]));
    const raw = await server
      .client()
      .send(new HeadObjectCommand({ Bucket: server.bucket, Key: 'backups/prefixed/1.dump.manifest.json' }));
    assert.equal(raw.$metadata.httpStatusCode, 200);
  });
});

describe('S3 driver: compose', () => {
  let server: TestS3Server;
  let store: ObjectStore;
  before(async () => {
    server = await startS3Server();
    store = await openObjectStore(server.url('composed', { part_size: '5MiB' }), server.env);
  });
  beforeEach(() => server.reset());
  after(async () => {
    await store.close();
    await server.close();
  });

  test('copies large ranges server-side and sends only the small bytes, every part but the last at least 5 MiB', async () => {
    const big = knownBytes(13 * MiB);
    const small = knownBytes(MiB);
    await store.upload('c1/big.piece', Readable.from([big]));
    await store.upload('c1/small.piece', Readable.from([small]));
    server.reset();
    const segments = [
      Buffer.from('head'),
      { key: 'c1/big.piece', start: 0, end: big.length - 1 },
      Buffer.from('trailer'),
      { key: 'c1/small.piece', start: 0, end: small.length - 1 },
      { key: 'c1/big.piece', start: 0, end: big.length - 1 },
      Buffer.from('end'),
    ];
    const expected = Buffer.concat([Buffer.from('head'), big, Buffer.from('trailer'), small, big, Buffer.from('end')]);
    await store.compose('c1/archive.dump', segments);
    const back = await drain(await store.read('c1/archive.dump'));
    assert.deepEqual([back.bytes, back.sha256], [expected.length, sha256(expected)], 'the composed bytes');
    const parts = server.requests
      .filter((r) => r.operation === 'UploadPart' || r.operation === 'UploadPartCopy')
      .sort((a, b) => a.partNumber! - b.partNumber!);
    assert.deepEqual(
      parts.map((p) => p.partNumber),
      parts.map((_, i) => i + 1),
    );
    for (const part of parts.slice(0, -1)) assert.ok(part.bytes! >= 5 * MiB, JSON.stringify(part));
    const copied = parts.filter((p) => p.operation === 'UploadPartCopy');
    const uploaded = parts.filter((p) => p.operation === 'UploadPart').reduce((sum, p) => sum + p.bytes!, 0);
    assert.ok(copied.length >= 2 && copied.every((p) => p.copySource === 'composed/c1/big.piece'));
    assert.equal(copied.reduce((sum, p) => sum + p.bytes!, 0) + uploaded, expected.length);
    assert.ok(uploaded <= 2 * 5 * MiB + small.length, `uploaded ${uploaded} bytes, the rest was copied`);
    const ranged = server.requests.filter((r) => r.operation === 'GetObject' && r.key.endsWith('big.piece'));
    assert.ok(ranged.length <= 2, 'big ranges are read only to fill a part to 5 MiB');
  });

  test('aborts the upload and leaves no object when a copied part keeps failing', async () => {
    await store.upload('c2/big.piece', Readable.from([knownBytes(11 * MiB)]));
    server.faults = { failUploadPartCopy: 2 };
    const error = await rejectsWith(
      store.compose('c2/archive.dump', [Buffer.alloc(10), { key: 'c2/big.piece', start: 0, end: 11 * MiB - 1 }]),
      'store_failed',
    );
    assert.match(error.message, /part 2/);
    assert.ok(server.requests.some((r) => r.operation === 'AbortMultipartUpload'));
    assert.deepEqual(
      (await store.list('c2/')).map((o) => o.key),
      ['c2/big.piece'],
    );
    assert.deepEqual(await store.listIncompleteUploads('c2/'), []);
  });

  test('the test server answers UploadPartCopy like S3: ranges inclusive, errors for bad ranges and unknown uploads', async () => {
    const client = server.client();
    await client.send(new PutObjectCommand({ Bucket: server.bucket, Key: 'raw/src', Body: Buffer.from('0123456789') }));
    const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket: server.bucket, Key: 'raw/dst' }));
    const copy = (range: string | undefined, uploadId = UploadId) =>
      client.send(
        new UploadPartCopyCommand({
          Bucket: server.bucket,
          Key: 'raw/dst',
          UploadId: uploadId,
          PartNumber: 1,
          CopySource: `${server.bucket}/raw/src`,
          ...(range === undefined ? {} : { CopySourceRange: range }),
        }),
      );
    const output = await copy('bytes=2-5');
    assert.match(output.CopyPartResult?.ETag ?? '', /^"[0-9a-f]{32}"$/);
    assert.ok(output.CopyPartResult?.LastModified instanceof Date);
    await assert.rejects(copy('bytes=5-10'), { name: 'InvalidArgument' });
    await assert.rejects(copy('bytes=6-5'), { name: 'InvalidArgument' });
    await assert.rejects(copy('2-5'), { name: 'InvalidArgument' });
    await assert.rejects(copy(undefined, 'ffff'), { name: 'NoSuchUpload' });
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket: server.bucket,
        Key: 'raw/dst',
        UploadId,
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: output.CopyPartResult.ETag! }] },
      }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: 'raw/dst' }));
    assert.equal(await got.Body!.transformToString(), '2345');
  });
});
