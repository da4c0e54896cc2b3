import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { isStorageFailure, storageCode, type StorageFailureCode } from '../../src/storage/errors.ts';
import type { BackupFailure } from '../../src/shared/backup-failure.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { drain, generate, knownBytes, MiB, sha256 } from './streams.ts';

export interface ContractSubject {
  /** A store whose multipart uploads (if any) use 5 MiB parts. */
  store: ObjectStore;
  teardown(): Promise<void>;
}

/**
 * The behaviour every ObjectStore driver must show. Each driver's test file runs it against a
 * real store (s3rver on loopback, a temporary folder) and adds its own driver-specific tests.
 */
export function objectStoreContract(name: string, open: () => Promise<ContractSubject>): void {
  describe(`${name}: ObjectStore contract`, () => {
    let subject: ContractSubject;
    let store: ObjectStore;
    before(async () => {
      subject = await open();
      store = subject.store;
    });
    after(async () => {
      await subject.teardown();
    });

    test('round-trips a multi-part stream with its size, SHA-256 and metadata', async () => {
      const source = generate(20 * MiB);
      const progress: number[] = [];
      const result = await store.upload('tenants/t1/b001/1.dump', source.stream, {
        sizeEstimate: 20 * MiB,
        metadata: { 'backup-id': 'b001' },
        onProgress: (p) => progress.push(p.bytesRead),
      });
      assert.deepEqual(result, { key: 'tenants/t1/b001/1.dump', bytes: 20 * MiB, sha256: source.produced().sha256 });
      assert.equal(progress.at(-1), 20 * MiB, 'progress reaches every byte read');

      const head = await store.head(result.key);
      assert.equal(head?.bytes, 20 * MiB);
      assert.equal(head?.manifest?.sha256, result.sha256);
      assert.equal(head?.manifest?.bytes, result.bytes);
      assert.deepEqual(head?.manifest?.metadata, { 'backup-id': 'b001' });

      const back = await drain(await store.read(result.key));
      assert.equal(back.bytes, result.bytes);
      assert.equal(back.sha256, result.sha256);

      const listed = await store.list('tenants/t1/');
      assert.deepEqual(
        listed.map((o) => [o.key, o.bytes, o.sealed]),
        [['tenants/t1/b001/1.dump', 20 * MiB, true]],
      );
      assert.deepEqual(await store.listIncompleteUploads('tenants/t1/'), []);
    });

    test('stores an empty stream as an empty sealed object', async () => {
      const result = await store.upload('empty/1.dump', Readable.from([]));
      assert.deepEqual(result, { key: 'empty/1.dump', bytes: 0, sha256: sha256('') });
      assert.equal((await store.head('empty/1.dump'))?.manifest?.bytes, 0);
    });

    test('replaces an object and its manifest when the same key is uploaded again', async () => {
      await store.upload('again/1.dump', Readable.from([Buffer.from('first version')]));
      const second = await store.upload('again/1.dump', Readable.from([Buffer.from('second')]));
      const head = await store.head('again/1.dump');
      assert.equal(head?.bytes, 6);
      assert.equal(head?.manifest?.sha256, second.sha256);
    });

    test('leaves no object and no incomplete upload when the signal aborts mid-upload', async () => {
      const controller = new AbortController();
      const source = generate(Infinity, { slow: true });
      const upload = store.upload('aborted/1.dump', source.stream, {
        signal: controller.signal,
        onProgress: ({ bytesRead }) => {
          if (bytesRead >= 12 * MiB) controller.abort(new Error('job expired'));
        },
      });
      await rejectsWith(upload, 'aborted');
      assert.ok(source.stream.destroyed, 'the source is destroyed');
      await assertNothingUnder('aborted/');
    });

    test('rejects at once when the signal was aborted before the upload started', async () => {
      const source = generate(MiB);
      await rejectsWith(store.upload('pre-aborted/1.dump', source.stream, { signal: AbortSignal.abort() }), 'aborted');
      await assertNothingUnder('pre-aborted/');
    });

    test('leaves nothing when the source stream fails mid-way', async () => {
      const source = generate(40 * MiB, { failAfter: 12 * MiB });
      await rejectsWith(store.upload('broken/1.dump', source.stream), 'source_failed');
      await assertNothingUnder('broken/');
    });

    test('leaves nothing when the producer reports failure after its stream ended', async () => {
      // pg_dump killed mid-dump: its stdout just ends, and only the exit status tells.
      const source = generate(7 * MiB);
      const sourceDone = new Promise((_, reject) =>
        source.stream.once('end', () => setTimeout(() => reject(new Error('pg_dump exited with 1')), 20)),
      );
      await rejectsWith(store.upload('producer/1.dump', source.stream, { sourceDone }), 'source_failed');
      await assertNothingUnder('producer/');
    });

    test('deletes idempotently', async () => {
      await store.delete('gone/never-existed.dump');
      await store.upload('gone/1.dump', Readable.from([Buffer.from('x')]));
      await store.delete('gone/1.dump');
      await store.delete('gone/1.dump');
      assert.equal(await store.head('gone/1.dump'), null);
      assert.deepEqual(await store.list('gone/'), []);
    });

    test('reads byte ranges, inclusive at both ends', async () => {
      const content = knownBytes(3 * MiB);
      await store.upload('ranges/1.dump', Readable.from([content]));
      assert.deepEqual(
        (await drain(await store.read('ranges/1.dump', { start: 10, end: 1009 }))).content,
        content.subarray(10, 1010),
      );
      assert.deepEqual(
        (await drain(await store.read('ranges/1.dump', { start: 3 * MiB - 5 }))).content,
        content.subarray(3 * MiB - 5),
      );
      assert.deepEqual((await drain(await store.read('ranges/1.dump', { start: 0, end: 10 * MiB }))).content, content);
      await rejectsWith(store.read('ranges/1.dump', { start: 3 * MiB }), 'invalid_range');
      await rejectsWith(store.read('ranges/1.dump', { start: 9, end: 3 }), 'invalid_range');
      await rejectsWith(store.read('ranges/missing.dump'), 'not_found');
    });

    test('refuses keys that could escape the store or collide with its own files', async () => {
      const bad = [
        '../x.dump',
        'a/../../b.dump',
        '/etc/passwd',
        'a//b',
        'a/./b',
        '.hidden',
        'a/b/',
        '',
        'a\\..\\b',
        'x.dump.manifest.json',
        'tenants/t1/..',
      ];
      for (const key of bad) {
        const source = generate(1024);
        await rejectsWith(store.upload(key, source.stream), 'invalid_key');
        assert.ok(source.stream.destroyed, `the body is destroyed when ${JSON.stringify(key)} is refused`);
        await rejectsWith(store.head(key), 'invalid_key');
        await rejectsWith(store.read(key), 'invalid_key');
        await rejectsWith(store.delete(key), 'invalid_key');
      }
      await rejectsWith(store.list('../'), 'invalid_key');
      await rejectsWith(store.listIncompleteUploads('/tenants'), 'invalid_key');
    });

    test('composes inline bytes and ranges of stored objects into one object, unsealed until sealed', async () => {
      const a = knownBytes(12 * MiB);
      const b = Buffer.from('the second source object');
      await store.upload('compose/src/a.piece', Readable.from([a]));
      await store.upload('compose/src/b.piece', Readable.from([b]));
      const segments = [
        Buffer.from('head'),
        { key: 'compose/src/a.piece', start: 0, end: a.length - 1 },
        Buffer.from('between'),
        { key: 'compose/src/b.piece', start: 4, end: 9 },
        { key: 'compose/src/a.piece', start: 7 * MiB + 3, end: 7 * MiB + 2 },
        { key: 'compose/src/a.piece', start: 5, end: 6 * MiB },
        Buffer.alloc(0),
      ].filter((s) => Buffer.isBuffer(s) || s.end >= s.start);
      const expected = Buffer.concat([
        Buffer.from('head'),
        a,
        Buffer.from('between'),
        b.subarray(4, 10),
        a.subarray(5, 6 * MiB + 1),
      ]);
      const composed = await store.compose('compose/archive.dump', segments, { metadata: { 'backup-id': 'b9' } });
      assert.deepEqual(composed, { key: 'compose/archive.dump', bytes: expected.length });
      const head = await store.head('compose/archive.dump');
      assert.equal(head?.bytes, expected.length);
      assert.equal(head?.manifest, null, 'not sealed before seal');
      assert.deepEqual((await store.list('compose/')).map((o) => [o.key, o.sealed]).sort(), [
        ['compose/archive.dump', false],
        ['compose/src/a.piece', true],
        ['compose/src/b.piece', true],
      ]);
      const back = await drain(await store.read('compose/archive.dump'));
      assert.deepEqual([back.bytes, back.sha256], [expected.length, sha256(expected)], 'the composed bytes');

      await rejectsWith(
        store.seal('compose/archive.dump', { bytes: expected.length + 1, sha256: sha256(expected) }),
        'size_mismatch',
      );
      assert.equal((await store.head('compose/archive.dump'))?.manifest, null, 'a refused seal writes no manifest');
      const sealed = await store.seal('compose/archive.dump', {
        bytes: expected.length,
        sha256: sha256(expected),
        metadata: { 'backup-id': 'b9' },
      });
      assert.deepEqual(sealed, { key: 'compose/archive.dump', bytes: expected.length, sha256: sha256(expected) });
      const after = await store.head('compose/archive.dump');
      assert.equal(after?.manifest?.sha256, sha256(expected));
      assert.deepEqual(after?.manifest?.metadata, { 'backup-id': 'b9' });
      assert.equal((await store.head('compose/src/a.piece'))?.bytes, a.length, 'the sources stay');
      assert.deepEqual(await store.listIncompleteUploads('compose/'), []);
    });

    test('composes small and empty objects', async () => {
      await store.upload('compose-small/src.piece', Readable.from([Buffer.from('0123456789')]));
      await store.compose('compose-small/a.dump', [
        Buffer.from('<'),
        { key: 'compose-small/src.piece', start: 2, end: 4 },
        Buffer.from('>'),
      ]);
      assert.equal((await drain(await store.read('compose-small/a.dump'))).content.toString(), '<234>');
      assert.deepEqual(await store.compose('compose-small/empty.dump', []), {
        key: 'compose-small/empty.dump',
        bytes: 0,
      });
      assert.equal((await store.head('compose-small/empty.dump'))?.bytes, 0);
    });

    test('refuses ranges outside their object, missing sources and itself, writing nothing', async () => {
      await store.upload('compose-bad/src.piece', Readable.from([Buffer.from('0123456789')]));
      const range = (start: number, end: number, key = 'compose-bad/src.piece') => [
        Buffer.from('x'),
        { key, start, end },
      ];
      await rejectsWith(store.compose('compose-bad/a.dump', range(5, 10)), 'invalid_range');
      await rejectsWith(store.compose('compose-bad/a.dump', range(5, 4)), 'invalid_range');
      await rejectsWith(store.compose('compose-bad/a.dump', range(-1, 4)), 'invalid_range');
      await rejectsWith(store.compose('compose-bad/a.dump', range(0, 1, 'compose-bad/missing.piece')), 'not_found');
      await rejectsWith(store.compose('compose-bad/a.dump', range(0, 1, '../escape')), 'invalid_key');
      await rejectsWith(store.compose('compose-bad/src.piece', range(0, 1)), 'invalid_config');
      await rejectsWith(store.seal('compose-bad/never.dump', { bytes: 1, sha256: sha256('x') }), 'not_found');
      assert.deepEqual(
        (await store.list('compose-bad/')).map((o) => o.key),
        ['compose-bad/src.piece'],
      );
      assert.deepEqual(await store.listIncompleteUploads('compose-bad/'), []);
    });

    test('leaves nothing when the compose is aborted', async () => {
      await store.upload('compose-abort/src.piece', Readable.from([knownBytes(12 * MiB)]));
      const segments = [Buffer.from('x'), { key: 'compose-abort/src.piece', start: 0, end: 12 * MiB - 1 }];
      await rejectsWith(store.compose('compose-abort/a.dump', segments, { signal: AbortSignal.abort() }), 'aborted');
      const controller = new AbortController();
      const composing = store.compose('compose-abort/b.dump', segments, { signal: controller.signal });
      setImmediate(() => controller.abort(new Error('shutdown')));
      await composing.then(
        () => store.delete('compose-abort/b.dump'), // finished before the abort: fine, but then remove it
        (error: unknown) => assert.ok(isStorageFailure(error, 'aborted'), String(error)),
      );
      assert.deepEqual(
        (await store.list('compose-abort/')).map((o) => o.key),
        ['compose-abort/src.piece'],
      );
      assert.deepEqual(await store.listIncompleteUploads('compose-abort/'), []);
    });

    async function assertNothingUnder(prefix: string): Promise<void> {
      assert.deepEqual(await store.list(prefix), [], `no object under ${prefix}`);
      assert.deepEqual(await store.listIncompleteUploads(prefix), [], `no incomplete upload under ${prefix}`);
    }
  });
}

/** Asserts that `promise` rejects with a storage failure of this code, and returns the error. */
export async function rejectsWith(promise: Promise<unknown>, code: StorageFailureCode): Promise<BackupFailure> {
  let caught: unknown;
  await assert.rejects(promise, (error: unknown) => {
    caught = error;
    return true;
  });
  assert.ok(isStorageFailure(caught), `expected a storage failure, got ${String(caught)}`);
  assert.equal(storageCode(caught), code, `expected code ${code}, got ${storageCode(caught)}: ${caught.message}`);
  return caught;
}
