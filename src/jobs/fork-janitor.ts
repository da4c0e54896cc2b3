import type { JobDeps } from './deps.ts';
import { MAX_ATTEMPT_AGE_MS } from './backup-janitor.ts';
import { listForksToReap, listStaleForkIntents } from '../forks/forks.repo.ts';
import { destroyForkNow, destroyUnrecordedFork } from '../forks/fork-teardown.ts';
import { failDrill, listDeadDrills, listDrillTargetsToReap } from '../backups/drills.repo.ts';
import { destroyDrillTarget } from '../forks/restore-drill.ts';

/** A running restore drill that has not beaten for this long lost its worker (it beats every 30 s). */
const DRILL_SILENT_MS = 5 * 60_000;

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
  const silentSince = new Date(now.getTime() - DRILL_SILENT_MS);
  for (const fork of await listForksToReap(deps.pool, new Date(now.getTime() - MAX_ATTEMPT_AGE_MS), silentSince)) {
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
  // Issue 15: restore drills whose worker died are failed visibly, and every drill database of a drill
  // that is over (or dead) is destroyed.
  for (const drillId of await listDeadDrills(deps.pool, silentSince)) {
    await failDrill(deps.pool, drillId, 'the worker running this drill stopped before it finished');
  }
  for (const target of await listDrillTargetsToReap(deps.pool, silentSince)) {
    try {
      await destroyDrillTarget(deps, target);
      report.destroyed.push(target.addonId ?? target.attachmentName);
    } catch (error) {
      report.failed.push(target.addonId ?? target.attachmentName);
      deps.logger.warn({ drillId: target.drillId, err: error }, 'fork janitor could not destroy a drill database');
    }
  }
  if (report.destroyed.length + report.failed.length > 0) deps.logger.info({ ...report }, 'fork janitor pass');
  return report;
}
