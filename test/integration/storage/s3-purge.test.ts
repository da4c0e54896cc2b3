import {
  DeleteObjectCommand,
  ListObjectVersionsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';

// purge(prefix) removes everything under a prefix for good: on a versioned bucket every older version and
// delete marker too (a plain delete only hides an object behind a marker), on an unversioned bucket its
// objects, and on a store without ListObjectVersions its current objects, saying it could do no more.

const versioned = await startS3Server('purge-versioned', { versioning: true });
after(() => versioned.close());
await versioned
  .client()
  .send(new PutBucketVersioningCommand({ Bucket: versioned.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
const unversioned = await startS3Server('purge-unversioned', { versioning: true });
after(() => unversioned.close());
const withoutVersions = await startS3Server('purge-plain');
after(() => withoutVersions.close());

async function put(server: TestS3Server, key: string, body: string): Promise<void> {
  await server.client().send(new PutObjectCommand({ Bucket: server.bucket, Key: key, Body: body }));
}

/** Every version and marker under `prefix`, read page by page behind the store's back. */
async function versionsUnder(client: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const found: string[] = [];
  let keyMarker: string | undefined;
  let versionIdMarker: string | undefined;
  do {
    const page = await client.send(
      new ListObjectVersionsCommand({
        Bucket: bucket,
        Prefix: prefix,
        ...(keyMarker ? { KeyMarker: keyMarker, VersionIdMarker: versionIdMarker } : {}),
      }),
    );
    for (const v of page.Versions ?? []) found.push(`version ${v.Key} ${v.VersionId}`);
    for (const m of page.DeleteMarkers ?? []) found.push(`marker ${m.Key} ${m.VersionId}`);
    keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
    versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
  } while (keyMarker);
  return found;
}

test('on a versioned bucket, purge removes every version and delete marker under the prefix and nothing else', async (t) => {
  const store = await openObjectStore(versioned.url('archives'), versioned.env);
  t.after(() => store.close());
  const client = versioned.client();
  await store.upload('tenants/a/b1/attempt-1.dump', Readable.from([Buffer.from('archive one')]));
  await store.upload('tenants/a/b1/attempt-1.dump', Readable.from([Buffer.from('archive one, rewritten')]));
  await store.upload('tenants/a/b2/attempt-1.dump', Readable.from([Buffer.from('archive two')]));
  await store.delete('tenants/a/b2/attempt-1.dump'); // hidden behind markers, still stored
  await store.upload('tenants/other/b9/attempt-1.dump', Readable.from([Buffer.from('another tenant')]));
  const before = await versionsUnder(client, versioned.bucket, 'archives/tenants/a/');
  assert.ok(before.filter((v) => v.startsWith('marker')).length >= 2, `delete markers stored: ${before.join(', ')}`);
  const otherBefore = await versionsUnder(client, versioned.bucket, 'archives/tenants/other/');

  const result = await store.purge('tenants/a/');

  assert.deepEqual(await versionsUnder(client, versioned.bucket, 'archives/tenants/a/'), []);
  assert.deepEqual(result, { removed: before.length, everyVersion: true });
  assert.deepEqual(await versionsUnder(client, versioned.bucket, 'archives/tenants/other/'), otherBefore);
  assert.equal((await store.list('tenants/other/')).length, 1);
});

test('purge pages through more than 1,000 versions and deletes them in batches', async (t) => {
  const store = await openObjectStore(versioned.url('many'), versioned.env);
  t.after(() => store.close());
  const client = versioned.client();
  for (let i = 0; i < 1000; i += 1) await put(versioned, `many/tenants/big/key-${i % 2}`, `version ${i}`);
  await client.send(new DeleteObjectCommand({ Bucket: versioned.bucket, Key: 'many/tenants/big/key-0' }));
  assert.equal((await versionsUnder(client, versioned.bucket, 'many/tenants/big/')).length, 1001);
  versioned.reset();

  const result = await store.purge('tenants/big/');

  const operations = versioned.requests.map((r) => r.operation);
  assert.equal(operations.filter((o) => o === 'ListObjectVersions').length, 2, 'two pages of versions');
  assert.equal(operations.filter((o) => o === 'DeleteObjects').length, 2, 'two batches of deletes');
  assert.deepEqual(result, { removed: 1001, everyVersion: true });
  assert.deepEqual(await versionsUnder(client, versioned.bucket, 'many/tenants/big/'), []);
});

test('on a bucket without versioning, purge removes the objects under the prefix', async (t) => {
  const store = await openObjectStore(unversioned.url('archives'), unversioned.env);
  t.after(() => store.close());
  await store.upload('tenants/a/b1/attempt-1.dump', Readable.from([Buffer.from('archive')]));
  await store.upload('tenants/b/b1/attempt-1.dump', Readable.from([Buffer.from('kept')]));

  const result = await store.purge('tenants/a/');

  assert.deepEqual(result, { removed: 2, everyVersion: true }); // the archive and its manifest, version "null"
  assert.deepEqual(await versionsUnder(unversioned.client(), unversioned.bucket, 'archives/tenants/a/'), []);
  assert.deepEqual(
    (await store.list('')).map((o) => o.key),
    ['tenants/b/b1/attempt-1.dump'],
  );
});

test('on a store without ListObjectVersions, purge deletes the current objects and says it could do no more', async (t) => {
  const store = await openObjectStore(withoutVersions.url('archives'), withoutVersions.env);
  t.after(() => store.close());
  await store.upload('tenants/a/b1/attempt-1.dump', Readable.from([Buffer.from('archive')]));
  await store.upload('tenants/b/b1/attempt-1.dump', Readable.from([Buffer.from('kept')]));

  const result = await store.purge('tenants/a/');

  assert.deepEqual(result, { removed: 1, everyVersion: false });
  assert.deepEqual(
    (await store.list('')).map((o) => o.key),
    ['tenants/b/b1/attempt-1.dump'],
  );
  assert.equal(await store.head('tenants/a/b1/attempt-1.dump'), null);
});
