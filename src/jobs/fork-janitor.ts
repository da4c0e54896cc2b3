import type { JobDeps } from './deps.ts';
import { MAX_ATTEMPT_AGE_MS } from './backup-janitor.ts';
import { listForksToReap, listStaleForkIntents } from '../forks/forks.repo.ts';
import { destroyForkNow, destroyUnrecordedFork } from '../forks/fork-teardown.ts';

/** What one pass did. */
export interface ForkJanitorReport {
  destroyed: string[];
  failed: string[];
}

/**
 * Destroys forks that outlived their purpose: those of finished backups (their teardown job failed or
 * was never sent), those older than any attempt can live (a worker died holding them), and those an
 * attempt asked for but died before recording (found by attachment name). Each is destroyed here, one
 * by one; one that cannot be destroyed stays recorded for the next pass.
 */
export async function forkJanitor(
  deps: JobDeps,
  _payload: object,
  _job?: unknown,
  now: Date = new Date(),
): Promise<ForkJanitorReport> {
  const report: ForkJanitorReport = { destroyed: [], failed: [] };
  for (const fork of await listForksToReap(deps.pool, new Date(now.getTime() - MAX_ATTEMPT_AGE_MS))) {
    try {
      await destroyForkNow(deps, fork);
      report.destroyed.push(fork.addonId);
    } catch (error) {
      report.failed.push(fork.addonId);
      deps.logger.warn(
        { backupId: fork.backupId, addonId: fork.addonId, err: error },
        'fork janitor could not destroy a fork',
      );
    }
  }
  // Forks asked for by attempts that died before recording them (see migration 0011).
  for (const intent of await listStaleForkIntents(deps.pool, new Date(now.getTime() - MAX_ATTEMPT_AGE_MS))) {
    try {
      if ((await destroyUnrecordedFork(deps, intent)) === 'destroyed') report.destroyed.push(intent.attachmentName);
    } catch (error) {
      report.failed.push(intent.attachmentName);
      deps.logger.warn({ backupId: intent.backupId, err: error }, 'fork janitor could not check an unrecorded fork');
    }
  }
  if (report.destroyed.length + report.failed.length > 0) deps.logger.info({ ...report }, 'fork janitor pass');
  return report;
}
