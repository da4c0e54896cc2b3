import type { JobDeps } from './deps.ts';
import { MAX_ATTEMPT_AGE_MS } from './backup-janitor.ts';
import { listForksToReap } from '../forks/forks.repo.ts';
import { destroyForkNow } from '../forks/fork-teardown.ts';

/** What one pass did. */
export interface ForkJanitorReport {
  destroyed: string[];
  failed: string[];
}

/**
 * Destroys forks that outlived their purpose: those of finished backups (their teardown job failed or
 * was never sent) and those older than any attempt can live (a worker died holding them). Each is
 * destroyed here, one by one; one that cannot be destroyed stays recorded for the next pass.
 */
export async function forkJanitor(deps: JobDeps, _payload: object, _job?: unknown, now: Date = new Date()): Promise<ForkJanitorReport> {
  const report: ForkJanitorReport = { destroyed: [], failed: [] };
  for (const fork of await listForksToReap(deps.pool, new Date(now.getTime() - MAX_ATTEMPT_AGE_MS))) {
    try {
      await destroyForkNow(deps, fork);
      report.destroyed.push(fork.addonId);
    } catch (error) {
      report.failed.push(fork.addonId);
      deps.logger.warn({ backupId: fork.backupId, addonId: fork.addonId, err: { message: (error as Error).message } }, 'fork janitor could not destroy a fork');
    }
  }
  if (report.destroyed.length + report.failed.length > 0) deps.logger.info({ ...report }, 'fork janitor pass');
  return report;
}
