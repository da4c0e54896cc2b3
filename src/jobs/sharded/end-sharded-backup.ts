import type { JobDeps } from '../deps.ts';
import { objectKeyFor } from '../../backups/backup.ts';
import { findBackup, markCanceled, markFailed } from '../../backups/backups.repo.ts';
import { appendLogs } from '../../backups/backup-logs.repo.ts';
import type { ShardedRun } from '../../backups/sharded-backups.repo.ts';
import { recordAudit } from '../../audit/audit.repo.ts';
import type { BackupFailure } from '../../shared/backup-failure.ts';
import { sanitizeFailure } from './sanitize.ts';
import { cancelQueuedPieces, releaseFork, removePieces } from './shard-cleanup.ts';
import { tellChannels } from '../backup-notify.ts';

/** How a sharded backup ends without an archive. */
export type ShardedEnd = { kind: 'failed'; failure: BackupFailure } | { kind: 'canceled'; reason: string };

/**
 * Ends a sharded backup that will not complete: failed (a piece ran out of retries, the deadline
 * passed, the assembly could not be verified) or canceled (on request, or its add-on was removed).
 * Then, on every such path, removes what it stored (every piece, and an archive the assembly may have
 * left) and sends its fork's teardown. Cleans up only when the backup ended in this attempt: a newer
 * attempt's pieces and fork are not this one's to touch. Returns whether this call ended it.
 */
export async function endShardedBackup(deps: JobDeps, run: ShardedRun, end: ShardedEnd): Promise<boolean> {
  const line =
    end.kind === 'failed'
      ? `attempt ${run.attempt} failed: ${sanitizeFailure(end.failure)}`
      : `attempt ${run.attempt} ${end.reason}`;
  const ended =
    end.kind === 'failed'
      ? run.token !== null &&
        (await markFailed(deps.pool, run.id, run.token, {
          kind: end.failure.kind,
          reason: sanitizeFailure(end.failure),
          final: true,
        }))
      : await markCanceled(deps.pool, run.id, end.reason);
  const now = await findBackup(deps.pool, run.id);
  if (!now || now.attempt !== run.attempt || now.state === 'completed' || !['failed', 'canceled'].includes(now.state))
    return false;
  if (ended) {
    await appendLogs(deps.pool, run.id, run.attempt, [line]).catch(() => {});
    if (end.kind === 'canceled')
      await recordAudit(deps.pool, {
        resourceId: run.resourceId,
        actor: 'system',
        action: 'backup.canceled',
        detail: { backup: run.name },
      });
    deps.logger.warn(
      { backupId: run.id, attempt: run.attempt, end: end.kind, ...(end.kind === 'failed' ? { err: end.failure } : {}) },
      'sharded backup ended without an archive',
    );
    if (end.kind === 'failed')
      await tellChannels(deps, deps.logger, { backupId: run.id, notice: 'failed', attempt: run.attempt });
  }
  await cleanUpEndedRun(deps, run);
  return ended;
}

/** Removes an ended attempt's pieces and archive and sends its fork's teardown; idempotent. */
export async function cleanUpEndedRun(deps: JobDeps, run: ShardedRun): Promise<void> {
  await cancelQueuedPieces(deps, run.id).catch((err: unknown) =>
    deps.logger.warn({ err, backupId: run.id }, 'could not cancel queued piece jobs'),
  );
  const lines: string[] = [];
  try {
    const removed = await removePieces(deps, run);
    await deps.store.delete(objectKeyFor(run.resourceId, run.id, run.attempt, '.dump'));
    if (removed > 0) lines.push(`removed ${removed} stored pieces`);
  } catch (err) {
    // The backup janitor removes objects no backup claims once they are old enough.
    deps.logger.warn({ err, backupId: run.id }, 'could not remove the pieces of an ended sharded backup');
  }
  try {
    const fork = await releaseFork(deps, run);
    if (fork) lines.push(`fork ${fork} teardown requested`);
  } catch (err) {
    deps.logger.warn({ err, backupId: run.id }, 'could not send the fork teardown; the fork janitor will');
  }
  if (lines.length > 0) await appendLogs(deps.pool, run.id, run.attempt, lines).catch(() => {});
}
