import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { openObjectStore } from '../../src/storage/open-object-store.ts';
import type { ObjectStore } from '../../src/storage/object-store.ts';
import { objectStoreContract, rejectsWith } from '../support/object-store-contract.ts';
import { generate, MiB } from '../support/streams.ts';

objectStoreContract('file driver', async () => {
  const root = await mkdtemp(path.join(os.tmpdir(), 'bb-file-store-'));
  const store = await openObjectStore(pathToFileURL(path.join(root, 'backups')).href, {});
  return { store, teardown: () => rm(root, { recursive: true, force: true }) };
});

describe('file driver', () => {
  let root: string;
  let store: ObjectStore;
  before(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'bb-file-store-'));
    store = await openObjectStore(pathToFileURL(root).href, {});
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('keeps the SHA-256 in a manifest beside the file, so it can be re-checked from disk alone', async () => {
    const result = await store.upload('tenants/t1/b001/1.dump', generate(3 * MiB).stream);
    const manifest = JSON.parse(
      await readFile(path.join(root, 'tenants/t1/b001/1.dump.manifest.json'), 'utf8'),
    ) as Record<string, unknown>;
    assert.equal(manifest.sha256, result.sha256);
    assert.equal(manifest.bytes, 3 * MiB);
    assert.deepEqual(await readdir(path.join(root, 'tenants/t1/b001')), ['1.dump', '1.dump.manifest.json']);
  });

  test('shows a truncated file with its true size beside the manifest size', async () => {
    await store.upload('truncated/1.dump', generate(MiB).stream);
    await truncate(path.join(root, 'truncated/1.dump'), 1000);
    const head = await store.head('truncated/1.dump');
    assert.equal(head?.bytes, 1000);
    assert.equal(head?.manifest?.bytes, MiB);
  });

  test('treats an unreadable manifest as no manifest', async () => {
    await store.upload('garbled/1.dump', generate(1000).stream);
    await writeFile(path.join(root, 'garbled/1.dump.manifest.json'), '{"sha256": "not a manifest"');
    assert.equal((await store.head('garbled/1.dump'))?.manifest, null);
  });

  test('writes through a temporary file that the janitor can find and remove after a crash', async () => {
    const folder = path.join(root, 'crashed');
    await store.upload('crashed/2.dump', Readable.from([Buffer.from('complete')]));
    const leftover = '.1.dump.0b6c7e2a-4b8e-4f3c-9a53-2f9f1c0d7e11.partial';
    await writeFile(path.join(folder, leftover), 'half a dump');
    await writeFile(path.join(folder, '1.dump'), 'renamed but never sealed');
    // The worker died between writing the manifest and renaming it into place.
    const manifestLeftover = '.1.dump.manifest.json.5d1c2b3a-4b8e-4f3c-9a53-2f9f1c0d7e11.partial';
    await writeFile(path.join(folder, manifestLeftover), '{}');

    const incomplete = await store.listIncompleteUploads('crashed/');
    assert.deepEqual(incomplete.map((u) => [u.key, u.uploadId]).sort(), [
      ['crashed/1.dump', leftover],
      ['crashed/1.dump', manifestLeftover],
    ]);
    assert.deepEqual((await store.list('crashed/')).map((o) => [o.key, o.sealed]).sort(), [
      ['crashed/1.dump', false],
      ['crashed/2.dump', true],
    ]);

    for (const upload of incomplete) await store.abortIncompleteUpload(upload);
    await store.abortIncompleteUpload(incomplete[0]!);
    assert.deepEqual(await store.listIncompleteUploads('crashed/'), []);
    await rejectsWith(
      store.abortIncompleteUpload({ key: 'crashed/1.dump', uploadId: '../../etc/passwd', initiated: new Date() }),
      'invalid_key',
    );
  });

  test('removes its temporary file when a large upload is cancelled', async () => {
    const controller = new AbortController();
    const upload = store.upload('cancelled/1.dump', generate(Infinity, { slow: true }).stream, {
      signal: controller.signal,
      onProgress: ({ bytesRead }) => {
        if (bytesRead > 4 * MiB) controller.abort();
      },
    });
    await rejectsWith(upload, 'aborted');
    assert.deepEqual(await readdir(path.join(root, 'cancelled')), []);
  });

  test('has no presigned URLs: the app serves files itself', async () => {
    assert.equal(await store.presignGet('tenants/t1/b001/1.dump', { expiresInSeconds: 60, filename: 'x.dump' }), null);
  });
});
