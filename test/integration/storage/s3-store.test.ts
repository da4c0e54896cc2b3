import {
  CreateMultipartUploadCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, test } from 'node:test';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';
import { objectStoreContract, rejectsWith } from '../../support/object-store-contract.ts';
import { drain, generate, MiB } from '../../support/streams.ts';

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
