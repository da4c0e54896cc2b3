import type { JobContext, JobDeps } from './deps.ts';
import { resealSealedValues, type ResealReport } from '../secrets/reseal.service.ts';

/**
 * Re-seals every sealed value under the newest ENCRYPTION_KEY and reports, in one log line, what is
 * left under each older key: when every count is 0 (and nothing is unreadable) the older keys can be
 * removed. Runs at every worker start (changing a config var restarts every dyno) and once a day.
 */
export async function resealSecrets(deps: JobDeps, _payload: unknown, job: JobContext): Promise<ResealReport> {
  const report = await resealSealedValues(deps, { signal: job.signal });
  const left = report.remaining.reduce((sum, r) => sum + r.values, 0);
  const clean = left === 0 && report.unreadable === 0 && report.unlistedColumns.length === 0;
  deps.logger[clean ? 'info' : 'warn'](
    { ...report, olderKeysRemovable: clean && !job.signal.aborted },
    'sealed values re-sealed',
  );
  if (report.unlistedColumns.length > 0)
    deps.logger.error({ columns: report.unlistedColumns }, 'sealed columns missing from the re-seal list');
  return report;
}
