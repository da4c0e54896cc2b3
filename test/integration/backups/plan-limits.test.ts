import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { startStack } from '../../support/stack.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../../support/seed-source.ts';
import { jobDeps } from '../../support/factories.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup, insertBackup } from '../../../src/backups/backups.repo.ts';
import { findResource } from '../../../src/resources/resources.repo.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { runBackup } from '../../../src/jobs/run-backup.ts';
import { PLANS, type Plan, type PlanCatalogue } from '../../../src/resources/plans.ts';

// The plan's limits hold for every backup, not only at a plan change: a database over the plan's size
// fails before pg_dump starts, and an archive that outgrows the plan's cap is stopped and leaves
// nothing. The limits are made small through a test catalogue handed to the job, as the worker hands
// it the real one.
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives', { part_size: '5MiB' });
const { app, sim } = await startStack({ worker: false, env: { STORAGE_URL: storageUrl, ...s3.env } });
const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await seedSourceDatabase(server, 'shop');
await addBigTable(server, 'shop', 300_000);
const db = app.runtime.pool;
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());

const MB = 1_000_000;
/** The real catalogue with the Standard plan's limits replaced (and Basic's below them, as in the real one). */
function catalogue(standard: Pick<Plan, 'maxDatabaseBytes' | 'maxArchiveBytes'>): PlanCatalogue {
  const basic = { maxDatabaseBytes: standard.maxDatabaseBytes / 2, maxArchiveBytes: standard.maxArchiveBytes / 2 };
  return { ...PLANS, basic: { ...PLANS.basic, ...basic }, standard: { ...PLANS.standard, ...standard } };
}

/** A Standard add-on with a backup row (no queued job) and what runBackup needs, with `plans` as its catalogue. */
async function attempt(plans: PlanCatalogue) {
  const { uuid: resourceId } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, resourceId, sourceUrl, 'admin@example.com');
  const backup = (await insertBackup(db, {
    id: randomUUID(),
    resourceId,
    trigger: 'manual',
    format: 'default',
    requestedBy: 'x',
  }))!;
  const deps = jobDeps(app, { store, backup: { stallTimeoutMs: 60_000, cancelPollMs: 250 }, plans });
  const run = () =>
    runBackup(
      deps,
      { backupId: backup.id },
      { id: 'job', signal: new AbortController().signal, retryCount: 0, expireInSeconds: 3600 },
    );
  const addonName = (await findResource(db, resourceId))!.name;
  return { resourceId, backup, run, addonName };
}
const nothingLeft = async (resourceId: string) => {
  assert.deepEqual(await store.list(`tenants/${resourceId}/`), [], 'no object');
  assert.deepEqual(await store.listIncompleteUploads(`tenants/${resourceId}/`), [], 'no open multipart upload');
};

test("a database over its plan's size fails before pg_dump starts, with the limit and the upgrade", async () => {
  const { resourceId, backup, run, addonName } = await attempt(
    catalogue({ maxDatabaseBytes: 2 * MB, maxArchiveBytes: 2.4 * MB }),
  );
  await run(); // returns: a retry would only find the same database
  const failed = (await findBackup(db, backup.id))!;
  assert.equal(failed.state, 'failed', 'final at once');
  assert.equal(failed.failureKind, 'too_large');
  assert.match(
    failed.failureReason!,
    new RegExp(
      `^the database is \\d+ MB; the Standard plan backs up databases up to 2 MB: upgrade with \`heroku addons:upgrade ${addonName} big-backup:premium\`$`,
    ),
  );
  assert.ok(failed.sourceBytes! > 2 * MB, 'the size found is recorded');
  assert.equal(failed.dumpCommand, null, 'pg_dump never started');
  assert.deepEqual(
    s3.requests.filter((r) => r.key.includes(resourceId)),
    [],
    'storage was never touched',
  );
  await nothingLeft(resourceId);
});

test("an archive that outgrows the plan's cap is stopped, fails as too_large and leaves nothing", async () => {
  // The database is within the plan; the archive cap is below what it dumps to (about 12 MB).
  const { resourceId, backup, run, addonName } = await attempt(
    catalogue({ maxDatabaseBytes: 1000 * MB, maxArchiveBytes: 7 * MB }),
  );
  await run();
  const failed = (await findBackup(db, backup.id))!;
  assert.equal(failed.state, 'failed', 'final at once');
  assert.equal(failed.failureKind, 'too_large');
  assert.match(failed.failureReason!, /^the archive grew past 7 MB, more than a database within the Standard plan/);
  assert.match(failed.failureReason!, new RegExp(`heroku addons:upgrade ${addonName} big-backup:premium`));
  const uploads = s3.requests.filter((r) => r.key.includes(resourceId));
  assert.ok(
    uploads.some((r) => r.operation === 'UploadPart'),
    'a part was stored before the cap was reached',
  );
  assert.ok(
    uploads.some((r) => r.operation === 'AbortMultipartUpload'),
    'the upload was aborted',
  );
  assert.ok(!uploads.some((r) => r.operation === 'CompleteMultipartUpload'), 'never completed');
  await nothingLeft(resourceId);
});
