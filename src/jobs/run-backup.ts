import type { Payload } from './queues.ts';
import { QUEUES } from './queues.ts';
import type { JobContext, JobDeps } from './deps.ts';
import { captureArchive } from '../backups/capture-archive.ts';
import { objectKeyFor } from '../backups/backup.ts';
import { beginAttempt, recordAttemptFacts, markVerifying, markCompleted, markFailed, markCanceled, cancelRequested, appendLogs } from '../backups/backups.repo.ts';
import { openSourceSession } from '../forks/fork-lifecycle.ts';
import { SourceError } from '../forks/errors.ts';
import { findResource } from '../resources/resources.repo.ts';
import { isDumpError } from '../dump/index.ts';
import { VerificationError } from '../backups/verify-archive.ts';
import { StorageError } from '../storage/errors.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { createLogBuffer } from '../backups/log-buffer.ts';
import { sendJob } from './send.ts';
import { createThroughputSamples } from '../backups/throughput-samples.ts';

/** A newer attempt owns the backup now; this one must stop and leave no trace. */
class SupersededError extends Error {
  constructor() {
    super('a newer attempt took over this backup');
    this.name = 'SupersededError';
  }
}

/** Failures a retry cannot fix: the backup fails at once and the job is not retried. */
class PermanentFailure extends Error {
  readonly kind: string;
  constructor(kind: string, message: string) {
    super(message);
    this.name = 'PermanentFailure';
    this.kind = kind;
  }
}

/**
 * Runs one attempt of a backup: resolve the source, dump, stream to storage, prove, verify, complete.
 * Every write names this attempt's token, so an attempt that a newer one replaced (pg-boss executes at
 * least once) can neither complete the backup nor keep its archive. Throws to have pg-boss retry;
 * returns after recording a failure a retry cannot fix, or a cancel.
 */
export async function runBackup(deps: JobDeps, { backupId }: Payload<'backup'>, job: JobContext): Promise<void> {
  const started = await beginAttempt(deps.pool, backupId);
  if (!started) {
    // Final already (a duplicate delivery) or canceled before it began.
    await markCanceled(deps.pool, backupId, 'canceled before it started');
    return;
  }
  const { backup, token } = started;
  const logger = deps.logger.child({ backupId, resourceId: backup.resourceId, attempt: backup.attempt });
  const controller = new AbortController();
  const stop = (reason: Error) => { if (!controller.signal.aborted) controller.abort(reason); };
  // pg-boss aborts the job's signal on shutdown, on a lost claim and on expiry alike. Expiry is a
  // limit a retry would only hit again, so the attempt stops itself a little before it, as timed out.
  const onJobAbort = () => stop(new JobInterrupted());
  job.signal.addEventListener('abort', onJobAbort, { once: true });
  const deadline = job.expireInSeconds > 0
    ? setTimeout(() => stop(new DeadlineReached(job.expireInSeconds)), deadlineDelayMs(job.expireInSeconds))
    : undefined;
  const logs = createLogBuffer((lines) => appendLogs(deps.pool, backupId, backup.attempt, lines), (error) => logger.warn({ err: { message: error.message } }, 'could not store log lines'));
  // Cancellation is a row flag set by the web process; the attempt looks for it every few seconds.
  const watcher = setInterval(() => {
    cancelRequested(deps.pool, backupId).then((yes) => { if (yes) stop(new CancelRequested()); }, () => {});
  }, deps.backup.cancelPollMs ?? 2000);
  let objectKey: string | undefined;
  let lastProgressWrite = 0;
  const samples = createThroughputSamples(Date.now());
  const fenced = async (write: Promise<boolean>) => { if (!(await write)) { const e = new SupersededError(); stop(e); throw e; } };
  // Resolves the database (a fork of it, for a Heroku source); `close` tears down the fork on every exit path.
  const sourceSession = openSourceSession(deps, { backup, token, signal: controller.signal, log: (line) => logs.add(line) });
  try {
    const resource = await findResource(deps.pool, backup.resourceId);
    if (!resource || resource.state !== 'provisioned') throw new PermanentFailure('deprovisioned', 'the add-on was removed');
    await fenced(recordAttemptFacts(deps.pool, backupId, token, { phase: 'resolving' }));
    const source = await sourceSession.open();
    logs.add(`attempt ${backup.attempt}: backing up ${source.description}`);
    const captured = await captureArchive({
      source: source.source, store: deps.store, format: backup.format, signal: controller.signal,
      stallTimeoutMs: deps.backup.stallTimeoutMs, ...(deps.backup.pgBinDir ? { pgBinDir: deps.backup.pgBinDir } : {}),
      key: (plan) => (objectKey = objectKeyFor(backup.resourceId, backupId, backup.attempt, plan.format.fileExtension)),
      metadata: { 'backup-id': backupId, attempt: String(backup.attempt) },
      onPlan: async (plan) => {
        logs.add(`PostgreSQL ${plan.server.version}; pg_dump ${plan.binaries.version} (${plan.binaries.pgDump}); format ${plan.format.format}, compression ${plan.format.pgDumpCompression}${plan.format.wrapper === 'zstd' ? ' with a zstd wrapper' : ''}`);
        await fenced(recordAttemptFacts(deps.pool, backupId, token, {
          phase: 'dumping', sourceBytes: plan.server.databaseBytes, sourceDescription: source.description,
          serverVersion: plan.server.version, pgDumpVersion: plan.binaries.version,
          dumpCommand: `pg_dump ${plan.format.flags.join(' ')}`, restoreCommand: plan.format.restoreCommand,
        }));
      },
      onLog: (line) => logs.add(line),
      onProgress: (progress) => {
        const now = Date.now();
        if (now - lastProgressWrite < 1000) return;
        lastProgressWrite = now;
        samples.add(now, progress.rawBytes);
        fenced(recordAttemptFacts(deps.pool, backupId, token, {
          progress: {
            bytes: progress.bytesOut, rawBytes: progress.rawBytes, bytesPerSecond: Math.round(progress.bytesPerSecond),
            sourceBytes: progress.sourceBytes, sourceBytesDone: progress.sourceBytesDone, sourceBytesPerSecond: progress.sourceBytesPerSecond,
            etaSeconds: progress.etaSeconds, currentTable: progress.currentTable,
            tablesDumped: progress.tablesStarted, updatedAt: new Date(now).toISOString(), samples: samples.list(),
          },
        })).catch(() => {});
      },
      onStored: async (stored) => {
        logs.add(`stored ${stored.bytes} bytes, sha256 ${stored.sha256}; reading it back to verify`);
        await fenced(markVerifying(deps.pool, backupId, token, { objectKey: stored.key, bytes: stored.bytes, sha256: stored.sha256 }));
      },
    });
    logs.add(`verified: ${captured.verified.tableCount} tables, ${captured.verified.tocEntries} archive entries`);
    await logs.flush();
    await fenced(markCompleted(deps.pool, backupId, token, captured.verified));
    await deps.pool.query('update resources set largest_database_bytes = greatest(coalesce(largest_database_bytes, 0), $2) where id = $1', [backup.resourceId, captured.plan.server.databaseBytes]);
    await recordAudit(deps.pool, { resourceId: backup.resourceId, actor: 'system', action: 'backup.completed', detail: { backup: backup.name, bytes: captured.stored.bytes } });
    logger.info({ bytes: captured.stored.bytes }, 'backup completed');
    // A new verified backup may let older ones go.
    await sendJob(deps.boss, 'backupPrune', { resourceId: backup.resourceId }, { singletonKey: backup.resourceId });
  } catch (error) {
    const reason: unknown = controller.signal.reason;
    if (error instanceof SupersededError || reason instanceof SupersededError) {
      // Not ours any more: remove our own archive (each attempt has its own key) and end quietly.
      if (objectKey) await deps.store.delete(objectKey).catch(() => {});
      logger.warn('attempt superseded by a newer one; its archive was removed');
      return;
    }
    logs.add(`attempt ${backup.attempt} failed: ${sanitize(error)}`);
    await logs.flush();
    // A cancel asked for while this attempt was failing for another reason ends the backup too, rather
    // than leaving it to wait for a retry that would only find the flag.
    if (reason instanceof CancelRequested || (await cancelRequested(deps.pool, backupId).catch(() => false))) {
      await markCanceled(deps.pool, backupId, 'canceled on request');
      await recordAudit(deps.pool, { resourceId: backup.resourceId, actor: 'system', action: 'backup.canceled', detail: { backup: backup.name } });
      return;
    }
    // Whatever the error, an attempt stopped from outside failed for that reason.
    const why = reason instanceof DeadlineReached || reason instanceof JobInterrupted ? reason : error;
    const { kind, retryable } = classify(why);
    const final = !retryable || job.retryCount >= QUEUES.backup.options.retryLimit;
    await markFailed(deps.pool, backupId, token, { kind, reason: sanitize(why), final });
    logger.warn({ kind, final }, 'backup attempt failed');
    if (retryable) throw error;
  } finally {
    await sourceSession.close();
    clearInterval(watcher);
    clearTimeout(deadline);
    job.signal.removeEventListener('abort', onJobAbort);
    await logs.close();
  }
}

class CancelRequested extends Error {
  constructor() {
    super('canceled on request');
    this.name = 'CancelRequested';
  }
}

/** The worker stopped this attempt (shutdown, or pg-boss found its claim gone): another attempt may finish. */
class JobInterrupted extends Error {
  constructor() {
    super('the worker stopped this attempt (a restart or deploy); it will be tried again');
    this.name = 'JobInterrupted';
  }
}

/** The attempt reached the plan's time limit: another attempt would only reach it again. */
class DeadlineReached extends Error {
  constructor(expireInSeconds: number) {
    const hours = expireInSeconds / 3600;
    const limit = hours >= 1 ? `${Math.round(hours)} hours` : `${Math.round(expireInSeconds)} seconds`;
    super(`the backup did not finish within the plan's limit of ${limit} and was stopped`);
    this.name = 'DeadlineReached';
  }
}

/** When to stop before pg-boss's expiry: 2 minutes early (a tenth early for short limits), time to clean up. */
function deadlineDelayMs(expireInSeconds: number): number {
  const limitMs = expireInSeconds * 1000;
  return Math.max(0, limitMs - Math.min(120_000, limitMs / 10));
}

function classify(error: unknown): { kind: string; retryable: boolean } {
  if (error instanceof DeadlineReached) return { kind: 'timed_out', retryable: false };
  if (error instanceof JobInterrupted) return { kind: 'interrupted', retryable: true };
  if (error instanceof PermanentFailure) return { kind: error.kind, retryable: false };
  if (error instanceof SourceError) return { kind: error.kind, retryable: error.retryable };
  if (isDumpError(error)) return { kind: error.code, retryable: error.retryable };
  if (error instanceof VerificationError) return { kind: 'verification_failed', retryable: true };
  if (error instanceof StorageError) return { kind: `storage_${error.code}`, retryable: error.retryable };
  return { kind: 'internal', retryable: true };
}

/** Error messages from our own layers are written to be safe to show; strip anything URL-like anyway. */
function sanitize(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.replace(/postgres(ql)?:\/\/\S+/g, '[database URL]').replace(/X-Amz-[A-Za-z-]+=[^&\s]+/g, '[signature]').slice(0, 1000);
}
