import type { JobDeps } from './deps.ts';
import { QUEUES } from '../queue/queues.ts';
import { isActive, pieceKeyPrefix } from '../backups/backup.ts';
import {
  findArchiveClaims,
  listUnfinishedSince,
  markFailed,
  markNeedsReverification,
} from '../backups/backups.repo.ts';

/** Nothing started this long ago can still be running: pg-boss expires every job in under 24 hours. */
export const MAX_ATTEMPT_AGE_MS = 24 * 3600_000;

// An unfinished backup whose job is gone is only declared dead after this grace, so a job that is
// being retried right now is never mistaken for a dead one.
const RECONCILE_GRACE_MS = 10 * 60_000;
/** Stored objects whose backups are looked up in one query. */
const CLAIMS_BATCH = 1000;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** What one janitor pass did. */
export interface JanitorReport {
  abandonedBackups: string[];
  abortedUploads: string[];
  removedObjects: string[];
  /** Completed backups whose archive is kept but could not be proven (no manifest): marked for re-verification. */
  needsReverification: string[];
}

/**
 * Cleans up after crashes. pg-boss is not the record: when a worker dies and the job's retries run out
 * (or its row is gone), the backup would stay "running" forever, so it is failed with that reason.
 * Multipart uploads and temporary files older than any attempt can live are aborted, and archives that
 * no backup claims (a dead attempt's object, a backup deleted without its object) are removed.
 * An object that a backup which has not failed claims is never removed, whatever is wrong with it: a
 * completed backup's archive without its manifest is kept, the backup is marked as needing
 * re-verification, and an error is logged.
 */
export async function backupJanitor(
  deps: JobDeps,
  _payload: object,
  _job?: unknown,
  now: Date = new Date(),
): Promise<JanitorReport> {
  const report: JanitorReport = {
    abandonedBackups: [],
    abortedUploads: [],
    removedObjects: [],
    needsReverification: [],
  };
  for (const id of await listUnfinishedSince(deps.pool, new Date(now.getTime() - RECONCILE_GRACE_MS))) {
    const jobs = await deps.boss.findJobs(QUEUES.backup.name, { data: { backupId: id } });
    if (jobs.some((job) => job.state === 'created' || job.state === 'retry' || job.state === 'active')) continue;
    if (
      await markFailed(deps.pool, id, null, {
        kind: 'abandoned',
        reason: 'the worker running this backup stopped and its retries ran out',
        final: true,
      })
    ) {
      report.abandonedBackups.push(id);
    }
  }
  const cutoff = now.getTime() - MAX_ATTEMPT_AGE_MS;
  for (const upload of await deps.store.listIncompleteUploads('tenants/')) {
    if (upload.initiated.getTime() > cutoff) continue;
    await deps.store.abortIncompleteUpload(upload);
    report.abortedUploads.push(upload.key);
  }
  const old = (await deps.store.list('tenants/')).filter((object) => object.lastModified.getTime() <= cutoff);
  // One query per batch of objects rather than one per object: the store holds every tenant's archives.
  for (let start = 0; start < old.length; start += CLAIMS_BATCH) {
    const batch = old
      .slice(start, start + CLAIMS_BATCH)
      .map((object) => ({ object, backupId: object.key.split('/')[2] ?? '' }));
    const claims = await findArchiveClaims(
      deps.pool,
      batch.map((b) => b.backupId).filter((id) => UUID.test(id)),
    );
    for (const { object, backupId } of batch) {
      const backup = claims.get(backupId);
      const claimed =
        backup !== undefined &&
        ((backup.objectKey === object.key && backup.state !== 'failed' && backup.state !== 'canceled') ||
          // The pieces of a sharded backup still in flight, which may run for days (issue 14).
          (backup.sharded &&
            isActive(backup.state) &&
            object.key.startsWith(pieceKeyPrefix(object.key.split('/')[1] ?? '', backupId, backup.attempt))));
      if (claimed) {
        if (!object.sealed && backup.state === 'completed') {
          report.needsReverification.push(backupId);
          const reason = 'its archive is stored but its manifest (size and SHA-256 record) is missing';
          if (await markNeedsReverification(deps.pool, backupId, reason)) {
            deps.logger.error(
              { backupId, key: object.key },
              'completed backup archive has no manifest; kept and marked for re-verification',
            );
          }
        }
        continue;
      }
      await deps.store.delete(object.key);
      report.removedObjects.push(object.key);
    }
  }
  if (report.abandonedBackups.length + report.abortedUploads.length + report.removedObjects.length > 0) {
    deps.logger.info({ ...report }, 'janitor cleaned up');
  }
  return report;
}
