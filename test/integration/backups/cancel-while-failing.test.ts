import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { resourceWithDirectSource } from '../../support/factories.ts';
import { requestBackup, cancelBackup } from '../../../src/backups/backups.service.ts';
import { beginAttempt, markFailed } from '../../../src/backups/backups.repo.ts';
import { QUEUES } from '../../../src/queue/queues.ts';

// An attempt that fails retryably writes the backup back to pending a moment before its handler
// returns and pg-boss moves the job to `retry`. A cancel in that moment must still free the resource's
// one queued slot: the job is active then, not queued. No worker runs here; the test plays the
// attempt's part itself, exactly as far as the worker gets before pg-boss settles the job.
const stack = await startStack({ worker: false });
const { app } = stack;
const db = app.runtime.pool;
const web = { pool: db, boss: app.boss };

test('a cancel between a failed attempt and its retry being queued frees the slot for a new capture', async () => {
  const resourceId = await resourceWithDirectSource(stack, 'postgres://u:p@db.example.com:5432/x');
  const requested = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  const [job] = await app.boss.fetch(QUEUES.backup.name, { batchSize: 1 });
  assert.equal((job?.data as { backupId?: string } | undefined)?.backupId, requested!.id, 'the worker took the job');
  const attempt = await beginAttempt(db, requested!.id);
  assert.ok(attempt);
  await markFailed(db, requested!.id, attempt.token, {
    kind: 'connection_failed',
    reason: 'no answer',
    final: false,
  });

  const canceled = await cancelBackup(web, resourceId, requested!.id, 'admin@example.com');
  assert.equal(canceled.state, 'canceled');
  assert.match(canceled.failureReason!, /while waiting to retry/);
  // The handler now throws, as a failed attempt does; pg-boss would retry the job unless it was canceled.
  await app.boss.fail(QUEUES.backup.name, job!.id, new Error('no answer'));
  const next = await requestBackup(web, resourceId, { trigger: 'manual', requestedBy: 'x' });
  assert.equal(next!.name, 'b002', 'a new capture is accepted at once');
});
