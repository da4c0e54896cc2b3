import type { Payload } from '../queue/queues.ts';
import type { JobContext, JobDeps } from './deps.ts';
import { recheckArchive, recheckDueArchives, type RecheckResult } from '../backups/archive-recheck.service.ts';

/** 64 GiB an hour: a 30-day cycle covers about 46 TB of archives. */
export const DEFAULT_RECHECK_BYTES_PER_HOUR = 64 * 1024 ** 3;

/**
 * The rolling re-check (every 10 minutes): reads the archives that are due again, within the hourly
 * byte budget, so it never competes with backups for long. A budget of 0 turns it off.
 */
export async function recheckArchives(
  deps: JobDeps,
  _payload: Payload<'recheckArchives'>,
  job?: Pick<JobContext, 'signal'>,
): Promise<Awaited<ReturnType<typeof recheckDueArchives>>> {
  const bytesPerHour = deps.recheck?.bytesPerHour ?? DEFAULT_RECHECK_BYTES_PER_HOUR;
  if (bytesPerHour <= 0) return { checked: [], deferred: 0 };
  const report = await recheckDueArchives(deps, { bytesPerHour, ...(job ? { signal: job.signal } : {}) });
  if (report.checked.length > 0) {
    deps.logger.info(
      {
        checked: report.checked.length,
        corrupt: report.checked.filter((c) => c.outcome === 'mismatch' || c.outcome === 'missing').length,
        deferred: report.deferred,
      },
      'stored archives re-checked',
    );
  }
  return report;
}

/** One backup's re-check, asked for now (the API, the dashboard). */
export async function recheckBackup(
  deps: JobDeps,
  { backupId, requestedBy }: Payload<'recheckBackup'>,
  job?: Pick<JobContext, 'signal'>,
): Promise<RecheckResult> {
  return recheckArchive(deps, backupId, requestedBy, job?.signal);
}
