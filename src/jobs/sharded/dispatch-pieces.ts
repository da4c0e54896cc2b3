import type { JobDeps } from '../deps.ts';
import { withTransaction } from '../../db/pool.ts';
import { claimPiecesToDispatch } from '../../backups/backup-pieces.repo.ts';
import { lockShardedRun } from '../../backups/sharded-backups.repo.ts';
import { findResource } from '../../resources/resources.repo.ts';
import { findPlan } from '../../resources/plans.ts';
import { sendJob } from '../../queue/send.ts';

/**
 * Sends piece jobs of one sharded attempt up to its plan's limit of pieces at once (Basic 2, Standard
 * 4, Premium 8), largest first. Called when the plan is recorded, whenever a piece finishes or fails,
 * and by the sweeper. Serialised on the backup's row lock, and each job is sent in that transaction, so
 * concurrent callers never exceed the limit and a piece is never sent twice. Returns the pieces sent.
 */
export async function dispatchPieces(
  deps: Pick<JobDeps, 'pool' | 'boss' | 'plans'>,
  run: { id: string; resourceId: string; attempt: number; token: string | null },
): Promise<number[]> {
  if (!run.token) return [];
  const limit = await pieceLimit(deps, run.resourceId);
  return withTransaction(deps.pool, async (tx) => {
    if (!(await lockShardedRun(tx, run.id, run.token!))) return [];
    const pieces = await claimPiecesToDispatch(tx, run.id, run.attempt, limit);
    for (const piece of pieces) {
      await sendJob(deps.boss, 'backupPiece', { backupId: run.id, attempt: run.attempt, piece }, { db: tx });
    }
    return pieces;
  });
}

/** How many of one resource's backup's pieces may run at once: its plan's `shardConcurrency`. */
async function pieceLimit(deps: Pick<JobDeps, 'pool' | 'plans'>, resourceId: string): Promise<number> {
  const resource = await findResource(deps.pool, resourceId);
  const plan = resource ? findPlan(resource.plan, deps.plans) : undefined;
  return plan?.shardConcurrency ?? 1;
}

/** Sends the attempt's assembly; the queue keeps one job per attempt, so a live one makes this a no-op. */
export async function sendAssembly(deps: JobDeps, run: { id: string; attempt: number }): Promise<void> {
  await sendJob(
    deps.boss,
    'backupAssemble',
    { backupId: run.id, attempt: run.attempt },
    { singletonKey: `${run.id}:${run.attempt}` },
  );
}
