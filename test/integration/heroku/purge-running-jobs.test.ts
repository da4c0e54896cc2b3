import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { jobDeps, pendingBackupRow, provisionedResource } from '../../support/factories.ts';
import { purgeResource } from '../../../src/jobs/purge-resource.ts';
import { markCanceled } from '../../../src/backups/backups.repo.ts';
import { QUEUES } from '../../../src/queue/queues.ts';
import { sendJob } from '../../../src/queue/send.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';

// A job naming the resource may still be running when the purge comes (a notification being sent, an
// archive being re-checked): its row must go too, or it outlives the tombstone by pg-boss's retention.
// No worker runs here; the test takes the job itself, as a worker would, and leaves it running.
const stack = await startStack({ worker: false });
const { app, sim } = stack;
const store = await openObjectStore(app.config.STORAGE_URL!, {});
after(() => store.close());

test('the purge removes the job rows of the resource that are still running, and its own stays until it ends', async () => {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  const backup = await pendingBackupRow(app.runtime.pool, uuid);
  await markCanceled(app.runtime.pool, backup.id, 'test');
  await sendJob(app.boss, 'backupNotice', { backupId: backup.id, notice: 'completed', attempt: 1 });
  const [running] = await app.boss.fetch(QUEUES.backupNotice.name, { batchSize: 1 });
  assert.ok(running, 'a notice job is running');
  assert.equal((await sim.deprovision(uuid)).result, 'deprovisioned');
  const [purge] = await app.boss.fetch(QUEUES.purgeResource.name, { batchSize: 1 });
  assert.ok(purge, 'the purge job is running');

  await purgeResource(jobDeps(app, { store }), { resourceId: uuid });

  const { rows } = await app.runtime.pool.query<{ name: string; state: string }>(
    `select name, state from pgboss.job where data::text like $1 or data::text like $2 order by name`,
    [`%${uuid}%`, `%${backup.id}%`],
  );
  assert.deepEqual(rows, [{ name: QUEUES.purgeResource.name, state: 'active' }]);
});
