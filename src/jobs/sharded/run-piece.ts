import type { Payload } from '../../queue/queues.ts';
import { QUEUES } from '../../queue/queues.ts';
import type { JobContext, JobDeps } from '../deps.ts';
import { dumpPiece, openPieceSession, type PieceSession } from '../../engine/index.ts';
import { PieceSessionPool } from './piece-sessions.ts';
import { pieceKeyFor } from '../../backups/backup.ts';
import { cancelRequested, recordAttemptFacts } from '../../backups/backups.repo.ts';
import { appendLogs } from '../../backups/backup-logs.repo.ts';
import {
  countPieces,
  listPieces,
  recordPieceDone,
  recordPieceRunFailed,
  startPieceRun,
} from '../../backups/backup-pieces.repo.ts';
import { findShardedRun, pieceMayGoOn, type ShardedRun } from '../../backups/sharded-backups.repo.ts';
import { summarisePieces } from '../../backups/sharded-progress.ts';
import { reopenStaticSource } from '../../forks/fork-source.ts';
import { isBackupFailure, toBackupFailure } from '../../shared/backup-failure.ts';
import { workerId } from '../../shared/worker-id.ts';
import { cancelRequested as cancelRequestedFailure, superseded } from '../attempt-failures.ts';
import { watchAttempt } from '../attempt-stop.ts';
import { dispatchPieces, sendAssembly } from './dispatch-pieces.ts';
import { endShardedBackup } from './end-sharded-backup.ts';
import { deadlinePassed, describePiece, pieceGaveUp } from './shard-failures.ts';
import { sanitizeFailure } from './sanitize.ts';

/**
 * Dumps one piece of a sharded backup, on whichever worker process took the job. Runs only while the
 * attempt that planned the piece still holds the backup; records the piece done only with storage's
 * proof (dumpPiece's result) and only through this run's own token, so a piece of a replaced attempt,
 * or a run that lost its claim, is never counted. A failed run is retried by pg-boss; the piece's last
 * run failing fails the backup, naming the piece. A worker killed mid-piece loses only this piece:
 * pg-boss retries the job once its heartbeat stops, and pieces already done are never dumped again.
 */
export async function runPiece(
  deps: JobDeps,
  { backupId, attempt, piece: no }: Payload<'backupPiece'>,
  job: JobContext,
): Promise<'done' | 'skipped' | 'failed'> {
  const run = await findShardedRun(deps.pool, backupId);
  // A piece of an attempt that was replaced, or of a backup that has ended: nothing to do.
  if (!run?.token || run.attempt !== attempt || run.state !== 'running' || run.captureMode !== 'sharded')
    return 'skipped';
  const planned = run.plan?.pieces.find((p) => p.no === no);
  if (!planned) return 'skipped';
  const logger = deps.logger.child({ backupId, attempt, piece: no });
  const log = (line: string) => appendLogs(deps.pool, backupId, attempt, [line]).catch(() => {});
  if (run.cancelRequested) {
    await endShardedBackup(deps, run, { kind: 'canceled', reason: 'canceled on request' });
    return 'skipped';
  }
  if (run.deadlineAt && run.deadlineAt.getTime() <= Date.now()) {
    await endShardedBackup(deps, run, { kind: 'failed', failure: deadlinePassed(run) });
    return 'skipped';
  }
  const worker = workerId();
  const started = await startPieceRun(deps.pool, { backupId, attempt, token: run.token, no, worker });
  if (!started) return 'skipped';
  const piece = { backupId, attempt, token: run.token, no, runToken: started.runToken };
  await log(`piece ${describePiece(planned)} started on ${worker} (run ${started.attempts})`);

  // A cancel stops the piece; so does the backup ending meanwhile (another piece failed it, its deadline passed).
  const attemptStop = watchAttempt(job, {
    everyMs: deps.backup.cancelPollMs ?? 2000,
    check: async () => {
      const answer = await pieceMayGoOn(deps.pool, backupId, piece.token);
      return answer === 'canceled' ? cancelRequestedFailure() : answer === 'ended' ? superseded() : null;
    },
  });
  const { signal } = attemptStop;
  const key = pieceKeyFor(run.resourceId, backupId, attempt, no, started.attempts);
  const sessionKey = PieceSessionPool.keyOf(backupId, attempt);
  // An idle session of this attempt on this worker, or a new one (asking Heroku for the fork's URL).
  let session: PieceSession | null = deps.pieceSessions?.take(sessionKey) ?? null;
  // Set once the piece is recorded done: from then on it must stay so, whatever fails after.
  let recorded = false;
  try {
    session ??= await openPieceSession({
      source: await reopenStaticSource(deps, run),
      plan: run.plan!,
      signal: signal,
      ...(deps.hosts ? { hosts: deps.hosts } : {}),
    });
    const result = await dumpPiece({
      session,
      plan: run.plan!,
      piece: planned,
      store: deps.store,
      key,
      signal: signal,
      ...(deps.hosts ? { hosts: deps.hosts } : {}),
      metadata: { 'backup-id': backupId, attempt: String(attempt), piece: String(no) },
    });
    if (!(await recordPieceDone(deps.pool, piece, result))) {
      // Not ours to count any more (the attempt was replaced, or the backup ended): leave no trace.
      await deps.store.delete(result.key).catch(() => {});
      logger.warn('piece finished after its run was superseded; its object was removed');
      return 'skipped';
    }
    recorded = true;
    const rate = result.seconds > 0 ? ` at ${formatRate(result.bytes / result.seconds)}` : '';
    await log(
      `piece ${describePiece(planned)} done on ${worker}: ${result.rows} rows, ${result.bytes} bytes stored, sha256 ${result.sha256}, ${result.seconds.toFixed(1)} s${rate}`,
    );
    await afterPiece(deps, run);
    return 'done';
  } catch (error) {
    if (recorded) {
      // The piece is done and its object proven: only what follows it failed (the progress, sending the
      // next pieces or the assembly), which the shard sweeper does too, within a minute.
      logger.warn({ err: error }, 'piece done, but what follows it failed; the shard sweeper carries on');
      return 'done';
    }
    await deps.store.delete(key).catch(() => {});
    const reason: unknown = signal.reason;
    const failure = toBackupFailure(isBackupFailure(reason) ? reason : error);
    if (failure.kind === 'superseded') {
      await recordPieceRunFailed(deps.pool, piece, 'stopped: the backup ended or a newer attempt took over', true);
      return 'skipped';
    }
    if (failure.kind === 'canceled' || (await cancelRequested(deps.pool, backupId).catch(() => false))) {
      await recordPieceRunFailed(deps.pool, piece, 'canceled', false);
      await endShardedBackup(deps, run, { kind: 'canceled', reason: 'canceled on request' });
      return 'skipped';
    }
    const final = !failure.retryable || job.retryCount >= QUEUES.backupPiece.options.retryLimit;
    await recordPieceRunFailed(deps.pool, piece, sanitizeFailure(failure), final);
    await log(
      `piece ${describePiece(planned)} failed on ${worker} (run ${started.attempts}${final ? ', no retries left' : ', will be retried'}): ${sanitizeFailure(failure)}`,
    );
    logger.warn({ err: failure, final }, 'piece run failed');
    if (!final) throw error;
    await endShardedBackup(deps, run, { kind: 'failed', failure: pieceGaveUp(planned, started.attempts, failure) });
    return 'failed';
  } finally {
    attemptStop.dispose();
    // Kept for the attempt's next piece only after a success; otherwise it goes with this run.
    if (session && recorded && deps.pieceSessions) deps.pieceSessions.give(sessionKey, session);
    else await session?.close();
  }
}

/** After a piece is done: the assembly once every piece is, otherwise the next pieces up to the limit. */
export async function afterPiece(deps: JobDeps, run: ShardedRun): Promise<void> {
  // The backup's progress, as the single stream keeps it (the page's live block and the API's `progress`).
  if (run.token) {
    const summary = summarisePieces(await listPieces(deps.pool, run.id, run.attempt));
    await recordAttemptFacts(deps.pool, run.id, run.token, {
      progress: {
        bytes: summary.items.reduce((sum, p) => sum + (p.bytes ?? 0), 0),
        sourceBytes: summary.estimatedBytes,
        sourceBytesDone: summary.estimatedBytesDone,
        etaSeconds: summary.etaSeconds,
        currentTable: null,
        tablesDumped: new Set(summary.items.filter((p) => p.state === 'done').map((p) => p.table)).size,
        updatedAt: new Date().toISOString(),
      },
    }).catch(() => false);
  }
  const counts = await countPieces(deps.pool, run.id, run.attempt);
  if (counts.total > 0 && counts.done === counts.total) {
    await sendAssembly(deps, run);
    return;
  }
  await dispatchPieces(deps, run);
}

function formatRate(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1_000_000).toFixed(1)} MB/s`;
}
