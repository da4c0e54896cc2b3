import type { Payload } from '../../queue/queues.ts';
import { QUEUES } from '../../queue/queues.ts';
import type { JobContext, JobDeps } from '../deps.ts';
import { assembleShardedArchive, selectPgBinaries } from '../../engine/index.ts';
import { objectKeyFor } from '../../backups/backup.ts';
import { cancelRequested, findBackup, markCompleted, markVerifying } from '../../backups/backups.repo.ts';
import { appendLogs } from '../../backups/backup-logs.repo.ts';
import { countPieces, listPieceResults } from '../../backups/backup-pieces.repo.ts';
import { findShardedRun, recordShardPhase, reopenAssembly } from '../../backups/sharded-backups.repo.ts';
import { recordLargestDatabase } from '../../resources/resources.repo.ts';
import { recordAudit } from '../../audit/audit.repo.ts';
import { sendJob } from '../../queue/send.ts';
import { isBackupFailure, toBackupFailure } from '../../shared/backup-failure.ts';
import { cancelRequested as cancelRequestedFailure, superseded } from '../attempt-failures.ts';
import { watchAttempt } from '../attempt-stop.ts';
import { endShardedBackup } from './end-sharded-backup.ts';
import { releaseFork, removePieces } from './shard-cleanup.ts';
import { sanitizeFailure } from './sanitize.ts';
import { reopenStaticSource } from '../../forks/fork-source.ts';
import { drillAfterBackup } from '../../forks/restore-drill.ts';
import { tellChannels } from '../backup-notify.ts';

/**
 * Joins the done pieces of a sharded attempt into its one archive (an ordinary `pg_dump -Fc` file),
 * verifies it in one read, and completes the backup exactly as the single stream does: verifying once
 * the stored archive is proven, completed once it is verified, through the attempt's token. Then the
 * pieces are removed, the fork is destroyed and older backups may be pruned. An assembly that cannot
 * succeed ends the backup as failed, with everything it stored removed.
 */
export async function assembleBackup(
  deps: JobDeps,
  { backupId, attempt }: Payload<'backupAssemble'>,
  job: JobContext,
): Promise<'completed' | 'skipped' | 'failed'> {
  const found = await findShardedRun(deps.pool, backupId);
  if (!found?.token || found.attempt !== attempt || found.captureMode !== 'sharded' || !found.plan) return 'skipped';
  if (found.state !== 'running' && found.state !== 'verifying') return 'skipped';
  const run = { ...found, token: found.token, plan: found.plan };
  const logger = deps.logger.child({ backupId, attempt });
  const log = (line: string) => appendLogs(deps.pool, backupId, attempt, [line]).catch(() => {});
  if (run.cancelRequested) {
    await endShardedBackup(deps, run, { kind: 'canceled', reason: 'canceled on request' });
    return 'skipped';
  }
  const counts = await countPieces(deps.pool, backupId, attempt);
  if (counts.done !== counts.total || counts.total !== run.plan.pieces.length) return 'skipped';
  // An earlier run of this job died after the archive was proven: assemble and prove it again.
  if (run.state === 'verifying' && !(await reopenAssembly(deps.pool, backupId, run.token))) return 'skipped';
  if (!(await recordShardPhase(deps.pool, backupId, run.token, 'assembling'))) return 'skipped';

  const attemptStop = watchAttempt(job, {
    everyMs: deps.backup.cancelPollMs ?? 2000,
    check: async () => ((await cancelRequested(deps.pool, backupId)) ? cancelRequestedFailure() : null),
  });
  const { signal } = attemptStop;
  const key = objectKeyFor(run.resourceId, backupId, attempt, '.dump');
  let notOurs = false;
  const fenced = async (write: Promise<boolean>) => {
    if (!(await write)) {
      notOurs = true;
      throw superseded();
    }
  };
  try {
    const pieces = await listPieceResults(deps.pool, backupId, attempt);
    await log(`all ${pieces.length} pieces done; assembling them into one archive`);
    const binaries = await selectPgBinaries(
      run.plan.serverMajor,
      deps.backup.pgBinDir ? { binDir: deps.backup.pgBinDir } : {},
    );
    const { stored, verified } = await assembleShardedArchive({
      store: deps.store,
      plan: run.plan,
      pieces,
      key,
      pgRestore: binaries.pgRestore,
      signal: signal,
      metadata: { 'backup-id': backupId, attempt: String(attempt) },
    });
    await log(`stored ${stored.bytes} bytes, sha256 ${stored.sha256}; verified by reading it back`);
    await fenced(
      markVerifying(deps.pool, backupId, run.token, {
        objectKey: stored.key,
        bytes: stored.bytes,
        sha256: stored.sha256,
      }),
    );
    await fenced(markCompleted(deps.pool, backupId, run.token, verified));
    await log(`verified: ${verified.tableCount} tables with rows, ${verified.tocEntries} archive entries`);
    await recordLargestDatabase(deps.pool, run.resourceId, run.plan.databaseBytes);
    await recordAudit(deps.pool, {
      resourceId: run.resourceId,
      actor: 'system',
      action: 'backup.completed',
      detail: { backup: run.name, bytes: stored.bytes, pieces: pieces.length },
    });
    logger.info({ bytes: stored.bytes, pieces: pieces.length }, 'sharded backup completed');
    await tellChannels(deps, logger, { backupId, notice: 'completed', attempt });
    // Issue 15: a restore drill, when due, while the fork still stands (it is released just below).
    const completed = await findBackup(deps.pool, backupId);
    if (completed && run.sourceMode === 'fork') {
      const fork = await reopenStaticSource(deps, run)
        .then((source) => source.resolve(signal))
        .catch((err: unknown) => {
          logger.warn({ err }, 'could not reopen the fork for a restore drill');
          return null;
        });
      await drillAfterBackup(deps, {
        backup: completed,
        fork,
        archive: { key: stored.key, bytes: stored.bytes },
        pgRestore: binaries.pgRestore,
        log: (line) => void log(line),
        signal: signal,
      });
    }
    // The pieces and the fork served their purpose; either left behind is found again (janitors).
    const removed = await removePieces(deps, run).catch((err: unknown) => {
      logger.warn({ err }, 'could not remove the pieces of a completed backup');
      return 0;
    });
    const fork = await releaseFork(deps, run).catch((err: unknown) => {
      logger.warn({ err }, 'could not send the fork teardown; the fork janitor will');
      return null;
    });
    await log(`removed ${removed} stored pieces${fork ? `; fork ${fork} teardown requested` : ''}`);
    await sendJob(deps.boss, 'backupPrune', { resourceId: run.resourceId }, { singletonKey: run.resourceId });
    return 'completed';
  } catch (error) {
    const reason: unknown = signal.reason;
    if (notOurs || isBackupFailure(error, 'superseded')) {
      await deps.store.delete(key).catch(() => {});
      logger.warn('assembly superseded by a newer attempt; its archive was removed');
      return 'skipped';
    }
    if (isBackupFailure(reason, 'canceled') || (await cancelRequested(deps.pool, backupId).catch(() => false))) {
      await endShardedBackup(deps, run, { kind: 'canceled', reason: 'canceled on request' });
      return 'skipped';
    }
    const failure = toBackupFailure(isBackupFailure(reason, 'interrupted') ? reason : error);
    const final = !failure.retryable || job.retryCount >= QUEUES.backupAssemble.options.retryLimit;
    await log(`assembly failed${final ? '' : ' (will be retried)'}: ${sanitizeFailure(failure)}`);
    logger.warn({ err: failure, final }, 'assembly failed');
    if (!final) throw error;
    await endShardedBackup(deps, run, { kind: 'failed', failure });
    return 'failed';
  } finally {
    attemptStop.dispose();
  }
}
