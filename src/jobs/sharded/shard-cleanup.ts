import type { JobDeps } from '../deps.ts';
import { pieceKeyPrefix } from '../../backups/backup.ts';
import type { ShardedRun } from '../../backups/sharded-backups.repo.ts';
import { findLiveFork } from '../../forks/forks.repo.ts';
import { sendTeardown } from '../../forks/fork-lifecycle.ts';
import { QUEUES } from '../../queue/queues.ts';

/**
 * Removes every stored piece of one sharded attempt. Pieces are only ever the means to the archive:
 * once it is verified, or the backup has ended without one, none of them is kept.
 */
export async function removePieces(
  deps: Pick<JobDeps, 'store'>,
  run: Pick<ShardedRun, 'id' | 'resourceId' | 'attempt'>,
): Promise<number> {
  const objects = await deps.store.list(pieceKeyPrefix(run.resourceId, run.id, run.attempt));
  for (const object of objects) await deps.store.delete(object.key);
  return objects.length;
}

/**
 * Sends the teardown of the fork a sharded backup was dumping (the attempt handed it over instead of
 * destroying it). The fork janitor destroys it anyway once the backup is final, should this fail.
 */
export async function releaseFork(
  deps: Pick<JobDeps, 'pool' | 'boss'>,
  run: Pick<ShardedRun, 'id'>,
): Promise<string | null> {
  const fork = await findLiveFork(deps.pool, run.id);
  if (!fork) return null;
  await sendTeardown(deps.boss, fork);
  return fork.addonName ?? fork.addonId;
}

/** Cancels the piece jobs of a backup still queued (they would only find the backup ended). */
export async function cancelQueuedPieces(deps: Pick<JobDeps, 'boss'>, backupId: string): Promise<void> {
  const queued = await deps.boss.findJobs(QUEUES.backupPiece.name, { data: { backupId }, queued: true });
  if (queued.length > 0)
    await deps.boss.cancel(
      QUEUES.backupPiece.name,
      queued.map((job) => job.id),
    );
}
