import type { JobDeps } from '../deps.ts';
import { QUEUES } from '../../queue/queues.ts';
import {
  countPieces,
  listPiecesInFlight,
  markPieceFailed,
  undispatchPiece,
  listPieces,
} from '../../backups/backup-pieces.repo.ts';
import { listShardedInFlight, type ShardedRun } from '../../backups/sharded-backups.repo.ts';
import { findResource } from '../../resources/resources.repo.ts';
import { deprovisioned } from '../attempt-failures.ts';
import { dispatchPieces, sendAssembly } from './dispatch-pieces.ts';
import { endShardedBackup } from './end-sharded-backup.ts';
import { deadlinePassed, pieceGaveUp, pieceLost } from './shard-failures.ts';
import { BackupFailure } from '../../shared/backup-failure.ts';

/** What one sweep did, per backup id. */
export interface SweepReport {
  ended: string[];
  assembling: string[];
  resumed: Array<{ backupId: string; piece: number }>;
  dispatched: Array<{ backupId: string; pieces: number[] }>;
}

/** pg-boss job states in which a job will still run (or is running). */
const LIVE = new Set(['created', 'retry', 'active']);

/**
 * Every minute, for each sharded backup an attempt holds: ends it when it was canceled (on request or
 * by the add-on's removal) or ran past its own deadline; sends its assembly once every piece is done;
 * finds pieces whose job is gone (never sent, or given up on by pg-boss after its worker kept dying)
 * and resumes or fails them; and sends waiting pieces up to the backup's limit. Nothing here depends on
 * any one worker process staying alive.
 */
export async function shardSweeper(
  deps: JobDeps,
  _payload: object = {},
  _job?: unknown,
  now: Date = new Date(),
): Promise<SweepReport> {
  const report: SweepReport = { ended: [], assembling: [], resumed: [], dispatched: [] };
  for (const run of await listShardedInFlight(deps.pool)) {
    try {
      await sweepOne(deps, run, now, report);
    } catch (err) {
      deps.logger.warn({ err, backupId: run.id }, 'shard sweeper could not look after a backup');
    }
  }
  if (report.ended.length + report.assembling.length + report.resumed.length > 0)
    deps.logger.info({ ...report }, 'shard sweeper pass');
  return report;
}

async function sweepOne(deps: JobDeps, run: ShardedRun, now: Date, report: SweepReport): Promise<void> {
  const resource = await findResource(deps.pool, run.resourceId);
  if (run.cancelRequested || !resource || resource.state !== 'provisioned') {
    const reason = run.cancelRequested ? 'canceled on request' : deprovisioned().message;
    if (await endShardedBackup(deps, run, { kind: 'canceled', reason })) report.ended.push(run.id);
    return;
  }
  if (run.deadlineAt && run.deadlineAt.getTime() <= now.getTime()) {
    if (await endShardedBackup(deps, run, { kind: 'failed', failure: deadlinePassed(run) })) report.ended.push(run.id);
    return;
  }
  const counts = await countPieces(deps.pool, run.id, run.attempt);
  if (counts.failed > 0) {
    const failed = (await listPieces(deps.pool, run.id, run.attempt)).find((p) => p.state === 'failed')!;
    const planned = run.plan?.pieces.find((p) => p.no === failed.no);
    const cause = new BackupFailure('dump_failed', failed.lastError ?? 'it failed', { retryable: false });
    const failure = planned ? pieceGaveUp(planned, failed.attempts, cause) : cause;
    if (await endShardedBackup(deps, run, { kind: 'failed', failure })) report.ended.push(run.id);
    return;
  }
  if (counts.total > 0 && counts.done === counts.total) {
    await sendAssembly(deps, run);
    report.assembling.push(run.id);
    return;
  }
  if (run.state !== 'running') return;
  for (const piece of await listPiecesInFlight(deps.pool, run.id, run.attempt)) {
    const jobs = await deps.boss.findJobs(QUEUES.backupPiece.name, {
      data: { backupId: run.id, attempt: run.attempt, piece: piece.no },
    });
    if (jobs.some((job) => LIVE.has(job.state))) continue;
    // Given up on by pg-boss without the piece recording why (its worker kept dying): fail the backup.
    if (jobs.some((job) => job.state === 'failed')) {
      const planned = run.plan?.pieces.find((p) => p.no === piece.no);
      await markPieceFailed(deps.pool, run.id, run.attempt, piece.no, 'its worker stopped and its retries ran out');
      const failure = planned
        ? pieceLost(planned, piece.attempts)
        : new BackupFailure('interrupted', `piece ${piece.no} was never finished`, { retryable: false });
      if (await endShardedBackup(deps, run, { kind: 'failed', failure })) report.ended.push(run.id);
      return;
    }
    // Its job is gone (completed by a run that found the backup busy, or never committed): send it again.
    if (await undispatchPiece(deps.pool, run.id, run.attempt, piece.no))
      report.resumed.push({ backupId: run.id, piece: piece.no });
  }
  const pieces = await dispatchPieces(deps, run);
  if (pieces.length > 0) report.dispatched.push({ backupId: run.id, pieces });
}
