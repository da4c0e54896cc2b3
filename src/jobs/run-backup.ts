import type { Payload } from '../queue/queues.ts';
import { QUEUES } from '../queue/queues.ts';
import type { JobContext, JobDeps } from './deps.ts';
import { captureArchive } from '../engine/index.ts';
import { objectKeyFor } from '../backups/backup.ts';
import {
  beginAttempt,
  recordAttemptFacts,
  markVerifying,
  markCompleted,
  markFailed,
  markCanceled,
  cancelPending,
  cancelRequested,
} from '../backups/backups.repo.ts';
import { appendLogs } from '../backups/backup-logs.repo.ts';
import { openSourceSession } from '../forks/fork-lifecycle.ts';
import { findResource, recordLargestDatabase } from '../resources/resources.repo.ts';
import { findPlan } from '../resources/plans.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { createLogBuffer } from '../backups/log-buffer.ts';
import { sendJob } from '../queue/send.ts';
import { deadLetterBackupJob } from '../queue/dead-letters.ts';
import { createThroughputSamples } from '../backups/throughput-samples.ts';
import { isBackupFailure, toBackupFailure, type BackupFailure } from '../shared/backup-failure.ts';
import { cancelRequested as cancelRequestedFailure, deprovisioned, superseded, timedOut } from './attempt-failures.ts';
import { watchAttempt } from './attempt-stop.ts';
import { archiveTooLarge, databaseTooLarge } from './plan-limit-failures.ts';
import { preflightBeforeBackup } from './backup-preflight.ts';
import { drillAfterBackup } from '../forks/restore-drill.ts';
import { tellChannels } from './backup-notify.ts';
import { startShardedCapture } from './sharded/start-sharded-capture.ts';

/**
 * Retries a `too_slow` attempt gets, fewer than the queue's: a server that was only busy gets a second
 * chance, one that is always this slow does not hold a worker's place for hours on every attempt.
 */
const TOO_SLOW_RETRIES = 1;

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
  await tellChannels(deps, logger, { backupId, notice: 'started', attempt: backup.attempt });
  // pg-boss aborts the job's signal on shutdown, on a lost claim and on expiry alike. Expiry is a
  // limit a retry would only hit again, so the attempt stops itself a little before it, as timed out.
  // Cancellation is a row flag set by the web process; the attempt looks for it every few seconds.
  const attemptStop = watchAttempt(job, {
    everyMs: deps.backup.cancelPollMs ?? 2000,
    check: async () => ((await cancelRequested(deps.pool, backupId)) ? cancelRequestedFailure() : null),
  });
  const { stop, signal } = attemptStop;
  const deadline =
    job.expireInSeconds > 0
      ? setTimeout(() => stop(timedOut(job.expireInSeconds)), deadlineDelayMs(job.expireInSeconds))
      : undefined;
  const logs = createLogBuffer(
    (lines) => appendLogs(deps.pool, backupId, backup.attempt, lines),
    (error) => logger.warn({ err: error }, 'could not store log lines'),
  );
  let objectKey: string | undefined;
  let lastProgressWrite = 0;
  const samples = createThroughputSamples(Date.now());
  // Set only here: a fenced write that found a newer attempt's token.
  let supersededBy: BackupFailure | undefined;
  const fenced = async (write: Promise<boolean>) => {
    if (!(await write)) {
      supersededBy ??= superseded();
      stop(supersededBy);
      throw supersededBy;
    }
  };
  // Resolves the database (a fork of it, for a Heroku source); `close` tears down the fork on every exit path.
  const sourceSession = openSourceSession(deps, {
    backup,
    token,
    signal: signal,
    log: (line) => logs.add(line),
  });
  try {
    const resource = await findResource(deps.pool, backup.resourceId);
    if (!resource || resource.state !== 'provisioned') throw deprovisioned();
    const plan = findPlan(resource.plan, deps.plans);
    if (!plan) throw new Error(`the resource is on plan ${resource.plan}, which the catalogue does not have`);
    await fenced(recordAttemptFacts(deps.pool, backupId, token, { phase: 'resolving' }));
    const source = await sourceSession.open();
    logs.add(`attempt ${backup.attempt}: backing up ${source.description}`);
    await preflightBeforeBackup(deps, { backup, source, log: (line) => logs.add(line), logger });
    // A static source (a fork) is dumped in pieces by any worker: once they are sent, this job is done.
    if (
      await startShardedCapture(deps, {
        backup,
        token,
        plan,
        resourceName: resource.name,
        opened: source,
        session: sourceSession,
        signal: signal,
        log: (line) => logs.add(line),
        fenced,
      })
    )
      return;
    const captured = await captureArchive({
      source: source.source,
      store: deps.store,
      format: backup.format,
      signal: signal,
      stallTimeoutMs: deps.backup.stallTimeoutMs,
      ...(deps.hosts ? { hosts: deps.hosts } : {}),
      ...(deps.backup.minThroughput ? { minThroughput: deps.backup.minThroughput } : {}),
      archiveLimit: {
        bytes: plan.maxArchiveBytes,
        failure: () => archiveTooLarge(plan, resource.name, deps.plans),
      },
      ...(deps.backup.pgBinDir ? { pgBinDir: deps.backup.pgBinDir } : {}),
      key: (dump) => (objectKey = objectKeyFor(backup.resourceId, backupId, backup.attempt, dump.format.fileExtension)),
      metadata: { 'backup-id': backupId, attempt: String(backup.attempt) },
      onPlan: async (dump) => {
        logs.add(
          `PostgreSQL ${dump.server.version}; pg_dump ${dump.binaries.version} (${dump.binaries.pgDump}); format ${dump.format.format}, compression ${dump.format.pgDumpCompression}${dump.format.wrapper === 'zstd' ? ' with a zstd wrapper' : ''}`,
        );
        const server = {
          sourceBytes: dump.server.databaseBytes,
          sourceDescription: source.description,
          serverVersion: dump.server.version,
        };
        // The plan's size limit, before pg_dump starts: the size found is recorded, pg_dump never runs.
        if (dump.server.databaseBytes > plan.maxDatabaseBytes) {
          await fenced(recordAttemptFacts(deps.pool, backupId, token, server));
          throw databaseTooLarge(plan, dump.server.databaseBytes, resource.name, deps.plans);
        }
        await fenced(
          recordAttemptFacts(deps.pool, backupId, token, {
            phase: 'dumping',
            ...server,
            pgDumpVersion: dump.binaries.version,
            dumpCommand: `pg_dump ${dump.format.flags.join(' ')}`,
            restoreCommand: dump.format.restoreCommand,
          }),
        );
      },
      onLog: (line) => logs.add(line),
      onProgress: (progress) => {
        const now = Date.now();
        if (now - lastProgressWrite < 1000) return;
        lastProgressWrite = now;
        samples.add(now, progress.rawBytes);
        fenced(
          recordAttemptFacts(deps.pool, backupId, token, {
            progress: {
              bytes: progress.bytesOut,
              rawBytes: progress.rawBytes,
              bytesPerSecond: Math.round(progress.bytesPerSecond),
              sourceBytes: progress.sourceBytes,
              sourceBytesDone: progress.sourceBytesDone,
              sourceBytesPerSecond: progress.sourceBytesPerSecond,
              etaSeconds: progress.etaSeconds,
              currentTable: progress.currentTable,
              tablesDumped: progress.tablesStarted,
              updatedAt: new Date(now).toISOString(),
              samples: samples.list(),
            },
          }),
        ).catch(() => {});
      },
      onStored: async (stored) => {
        logs.add(`stored ${stored.bytes} bytes, sha256 ${stored.sha256}; reading it back to verify`);
        await fenced(
          markVerifying(deps.pool, backupId, token, {
            objectKey: stored.key,
            bytes: stored.bytes,
            sha256: stored.sha256,
          }),
        );
      },
    });
    logs.add(
      `verified: ${captured.verified.tableCount} tables with rows, ${captured.verified.tocEntries} archive entries`,
    );
    await logs.flush();
    await fenced(markCompleted(deps.pool, backupId, token, captured.verified));
    await recordLargestDatabase(deps.pool, backup.resourceId, captured.plan.server.databaseBytes);
    await recordAudit(deps.pool, {
      resourceId: backup.resourceId,
      actor: 'system',
      action: 'backup.completed',
      detail: { backup: backup.name, bytes: captured.stored.bytes },
    });
    logger.info({ bytes: captured.stored.bytes }, 'backup completed');
    await tellChannels(deps, logger, { backupId, notice: 'completed', attempt: backup.attempt });
    // Issue 15: a restore drill, when due, while the fork still stands (sourceSession.close destroys it).
    if (source.mode !== 'direct') {
      await drillAfterBackup(deps, {
        backup,
        fork: source.mode === 'fork' ? await source.source.resolve() : null,
        archive: { key: captured.stored.key, bytes: captured.stored.bytes },
        pgRestore: captured.plan.binaries.pgRestore,
        log: (line) => logs.add(line),
        signal: signal,
      });
      await logs.flush();
    }
    // A new verified backup may let older ones go.
    await sendJob(deps.boss, 'backupPrune', { resourceId: backup.resourceId }, { singletonKey: backup.resourceId });
  } catch (error) {
    const reason: unknown = signal.reason;
    if (supersededBy !== undefined && (error === supersededBy || reason === supersededBy)) {
      // Not ours any more: remove our own archive (each attempt has its own key) and end quietly.
      if (objectKey) await deps.store.delete(objectKey).catch(() => {});
      logger.warn('attempt superseded by a newer one; its archive was removed');
      return;
    }
    logs.add(`attempt ${backup.attempt} failed: ${sanitize(toBackupFailure(error))}`);
    await logs.flush();
    // A cancel asked for while this attempt was failing for another reason ends the backup too, rather
    // than leaving it to wait for a retry that would only find the flag.
    if (isBackupFailure(reason, 'canceled') || (await cancelRequested(deps.pool, backupId).catch(() => false))) {
      await markCanceled(deps.pool, backupId, 'canceled on request');
      await recordAudit(deps.pool, {
        resourceId: backup.resourceId,
        actor: 'system',
        action: 'backup.canceled',
        detail: { backup: backup.name },
      });
      return;
    }
    // Whatever the error, an attempt stopped from outside failed for that reason.
    const failure = toBackupFailure(isBackupFailure(reason, 'timed_out', 'interrupted') ? reason : error);
    const queueLimit = QUEUES.backup.options.retryLimit;
    const retries = failure.kind === 'too_slow' ? Math.min(TOO_SLOW_RETRIES, queueLimit) : queueLimit;
    const final = !failure.retryable || job.retryCount >= retries;
    const marked = await markFailed(deps.pool, backupId, token, {
      kind: failure.kind,
      reason: sanitize(failure),
      final,
    });
    logger.warn({ err: failure, kind: failure.kind, final }, 'backup attempt failed');
    if (marked && final) await tellChannels(deps, logger, { backupId, notice: 'failed', attempt: backup.attempt });
    // A cancel that came in between the check above and this write was not seen by either side (the
    // canceller found the backup running): look again now that it is pending, and end it here.
    if (!final && (await cancelRequested(deps.pool, backupId).catch(() => false))) {
      if (await cancelPending(deps.pool, backupId, 'canceled on request while waiting to retry')) return;
    }
    // Thrown, pg-boss retries it (or, past the queue's own limit, dead-letters it); returned, it is done.
    if (failure.retryable && (!final || job.retryCount >= queueLimit)) throw error;
    // Final on its own smaller budget (too_slow): returned, so dead-letter it here, as pg-boss would have.
    if (failure.retryable && final) {
      await deadLetterBackupJob(deps.boss, backupId).catch((err: unknown) => {
        logger.error({ err }, 'could not dead-letter a backup job that ran out of retries');
      });
    }
  } finally {
    await sourceSession.close();
    attemptStop.dispose();
    clearTimeout(deadline);
    await logs.close();
  }
}

/** When to stop before pg-boss's expiry: 2 minutes early (a tenth early for short limits), time to clean up. */
function deadlineDelayMs(expireInSeconds: number): number {
  const limitMs = expireInSeconds * 1000;
  return Math.max(0, limitMs - Math.min(120_000, limitMs / 10));
}

/** Failure messages are written to be safe to show; strip anything URL-like anyway. */
function sanitize(failure: BackupFailure): string {
  return failure.message
    .replace(/postgres(ql)?:\/\/\S+/g, '[database URL]')
    .replace(/X-Amz-[A-Za-z-]+=[^&\s]+/g, '[signature]')
    .slice(0, 1000);
}
