import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { ListObjectsV2Command } from '@aws-sdk/client-s3';
import { startStack, Browser, apiCall } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startS3Server, type S3Faults } from '../../support/s3-server.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../../support/seed-source.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';

// The completion predicate at the level of a whole backup: the real worker, a real pg_dump, the S3
// server lying in one way or another after the bytes were sent. Every attempt must fail, through every
// retry, until the backup fails for good: it is never `completed`, no download link can be made for it,
// and nothing of it is left in the bucket.
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives', { part_size: '5MiB' });
const { app, sim } = await startStack({ env: { STORAGE_URL: storageUrl, ...s3.env } });
// Retries after 1 s instead of minutes, through pg-boss's own updateQueue; the number of retries stays the product's.
await app.boss.updateQueue('backup', { retryDelay: 1, retryBackoff: false });
const db = app.runtime.pool;
const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await seedSourceDatabase(server, 'shop');
// Enough for an archive of several parts: the faults that follow CompleteMultipartUpload need one.
await addBigTable(server, 'shop', 150_000);
const bucket = s3.client();
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());

async function addon(): Promise<{ uuid: string; browser: Browser; csrf: string }> {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(uuid, { user: 'admin@example.com' }))).status, 303);
  return { uuid, browser, csrf: await browser.csrfToken() };
}

/** Everything in the bucket under the resource's prefix, manifests included (the store's own list hides them). */
async function bucketKeys(resourceId: string): Promise<string[]> {
  const listed = await bucket.send(
    new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: `archives/tenants/${resourceId}/` }),
  );
  return (listed.Contents ?? []).map((o) => o.Key!);
}

const cases: Array<{ fault: string; faults: S3Faults; kind: string }> = [
  {
    fault: 'the object is cut short after CompleteMultipartUpload',
    faults: { afterComplete: 'truncate' },
    kind: 'storage_size_mismatch',
  },
  {
    fault: 'the object is gone after CompleteMultipartUpload',
    faults: { afterComplete: 'delete' },
    kind: 'storage_missing_after_complete',
  },
  {
    fault: 'CompleteMultipartUpload answers 200 with an error',
    faults: { completeAnswersErrorIn200: true },
    kind: 'storage_store_failed',
  },
  {
    fault: 'the digest (manifest) is acknowledged but never stored',
    faults: { dropManifests: true },
    kind: 'verification_failed',
  },
];

for (const { fault, faults, kind } of cases) {
  test(`${fault}: the backup never completes, no link can be made, nothing is left`, async () => {
    const { uuid, browser, csrf } = await addon();
    s3.faults = { ...faults };
    try {
      const requested = (await requestBackup({ pool: db, boss: app.boss }, uuid, {
        trigger: 'manual',
        requestedBy: 'admin@example.com',
      }))!;
      const failed = await eventually(
        async () => {
          const b = await findBackup(db, requested.id);
          return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
        },
        { timeoutMs: 180_000, what: 'the backup to fail for good' },
      );
      assert.equal(failed.state, 'failed', `${failed.failureKind}: ${failed.failureReason}`);
      assert.equal(failed.failureKind, kind, failed.failureReason ?? '');
      assert.equal(failed.verifiedAt, null);
      const events = await listEvents(db, requested.id);
      assert.ok(
        events.every((e) => e.state !== 'completed'),
        `never completed on any attempt: ${JSON.stringify(events.map((e) => [e.attempt, e.state]))}`,
      );
      assert.ok(
        s3.requests.some((r) => r.operation === 'CompleteMultipartUpload'),
        'the archive went up in parts, so the fault was met',
      );

      const link = await apiCall(app.url, 'POST', `/backups/${requested.id}/links`, { browser, csrf, body: {} });
      assert.equal(link.status, 409, await link.clone().text());
      assert.equal(((await link.json()) as { code: string }).code, 'backup_not_downloadable');
      const links = await db.query('select count(*)::int as n from download_links where backup_id = $1', [
        requested.id,
      ]);
      assert.equal(links.rows[0].n, 0, 'no link row');

      assert.deepEqual(await bucketKeys(uuid), [], 'no object and no manifest');
      assert.deepEqual(await store.listIncompleteUploads(`tenants/${uuid}/`), [], 'no open multipart upload');
    } finally {
      s3.reset();
    }
  });
}
