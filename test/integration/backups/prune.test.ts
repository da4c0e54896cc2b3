import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { startStack } from '../../support/stack.ts';
import { listResourceBackups } from '../../../src/backups/backups.repo.ts';
import { forceCompleted, forceFailed, jobDeps, pendingBackupRow } from '../../support/factories.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { backupPrune } from '../../../src/jobs/backup-prune.ts';

const { app, sim } = await startStack({ worker: false });
const db = app.runtime.pool;
const store = await openObjectStore(app.config.STORAGE_URL!, {});
after(() => store.close());
const deps = jobDeps(app, { store, backup: { stallTimeoutMs: 1000 } });

/** A backup in `state`, started `hoursAgo`, with a stored archive when completed. */
async function backup(resourceId: string, state: 'completed' | 'failed', hoursAgo: number) {
  const b = await pendingBackupRow(db, resourceId);
  const key = `tenants/${resourceId}/${b.id}/attempt-1.dump`;
  const started = new Date(Date.now() - hoursAgo * 3600_000);
  if (state === 'completed') {
    const stored = await store.upload(key, Readable.from([Buffer.from(`archive ${b.id}`)]));
    await forceCompleted(db, b.id, {
      archive: { key, bytes: stored.bytes, sha256: stored.sha256 },
      at: started,
      startedAt: started,
    });
  } else {
    await forceFailed(db, b.id, { kind: 'dump_failed', at: started, startedAt: started });
  }
  return { id: b.id, key };
}

test("keeps the plan's newest manual backups, deleting each older archive and then its row", async () => {
  const { uuid } = await sim.provision({ plan: 'basic' }); // keeps 10 manual backups
  const made = [];
  for (let i = 0; i < 13; i++) made.push(await backup(uuid, 'completed', 13 - i));
  const deleted = await backupPrune(deps, { resourceId: uuid });
  assert.deepEqual(
    deleted.sort(),
    made
      .slice(0, 3)
      .map((b) => b.id)
      .sort(),
  );
  for (const gone of made.slice(0, 3)) assert.equal(await store.head(gone.key), null);
  for (const kept of made.slice(3)) assert.ok(await store.head(kept.key));
  assert.equal((await listResourceBackups(db, uuid)).length, 10);
  assert.deepEqual(await backupPrune(deps, { resourceId: uuid }), [], 'a second run deletes nothing more');
});

test('keeps the newest verified backup even when it is old and every newer one failed', async () => {
  const { uuid } = await sim.provision({ plan: 'basic' });
  const old = await backup(uuid, 'completed', 24 * 60);
  for (let i = 0; i < 5; i++) await backup(uuid, 'failed', 24 * 20 - i);
  await backupPrune(deps, { resourceId: uuid });
  assert.ok(await store.head(old.key));
  const left = await listResourceBackups(db, uuid);
  assert.deepEqual(
    left.map((b) => b.id),
    [old.id],
    'failed ones older than 7 days are gone, the verified one stays',
  );
});

test('two prunes at once never delete below the floor or delete an archive twice', async () => {
  const { uuid } = await sim.provision({ plan: 'basic' });
  for (let i = 0; i < 14; i++) await backup(uuid, 'completed', 14 - i);
  const [a, b] = await Promise.all([backupPrune(deps, { resourceId: uuid }), backupPrune(deps, { resourceId: uuid })]);
  assert.equal(a.length + b.length, 4);
  assert.equal(new Set([...a, ...b]).size, 4);
  assert.equal((await listResourceBackups(db, uuid)).length, 10);
});

// The row is the fork janitor's only record of a fork whose teardown keeps failing, or of one an
// attempt asked Heroku for and died before recording: it stays, however old, until that is settled.
for (const [what, hold, settle] of [
  [
    'a fork never destroyed',
    `fork_addon_id = 'addon-1', fork_addon_name = 'postgresql-fork-1', fork_requested_at = started_at`,
    'fork_destroyed_at = now()',
  ],
  [
    'an unsettled fork intent',
    `fork_intent_app = 'scratch', fork_intent_attachment = 'BIGBACKUP_FORK_X_B001', fork_intent_at = started_at`,
    'fork_intent_app = null, fork_intent_attachment = null, fork_intent_at = null',
  ],
] as const) {
  test(`a backup holding ${what} is kept until it is settled`, async () => {
    const { uuid } = await sim.provision({ plan: 'basic' });
    await backup(uuid, 'completed', 1);
    const held = await backup(uuid, 'failed', 24 * 20);
    await db.query(`update backups set ${hold} where id = $1`, [held.id]);
    assert.deepEqual(await backupPrune(deps, { resourceId: uuid }), []);
    await db.query(`update backups set ${settle} where id = $1`, [held.id]);
    assert.deepEqual(await backupPrune(deps, { resourceId: uuid }), [held.id]);
  });
}
