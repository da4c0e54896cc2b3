import type { Backup } from '../backups/backup.ts';
import type { OpenedSource } from '../forks/fork-lifecycle.ts';
import type { Logger } from '../logger.ts';
import { checkBeforeBackup } from '../preflight/preflight.service.ts';
import { summaryLine } from '../preflight/finding.ts';
import type { JobDeps } from './deps.ts';
import { preflightDeps } from './preflight.ts';

/** The longest the report may hold up a backup; catalog queries take well under a second each. */
const PREFLIGHT_BUDGET_MS = 60_000;

/**
 * The pre-flight report of one backup attempt, on the database it is about to dump (the fork, for a
 * Heroku source), stored with the backup and summed up in its log. Never throws: a catalog query that
 * fails, or a report that takes too long, costs the report, never the backup.
 */
export async function preflightBeforeBackup(
  deps: JobDeps,
  run: { backup: Backup; source: OpenedSource; log: (line: string) => void; logger: Logger },
): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const { connection } = await run.source.source.resolve();
    const check = checkBeforeBackup(preflightDeps(deps), {
      resourceId: run.backup.resourceId,
      backupId: run.backup.id,
      connection,
      capture: run.source.mode === 'fork' ? 'fork' : 'direct',
    });
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('the pre-flight check took too long')), PREFLIGHT_BUDGET_MS);
    });
    check.catch(() => {}); // when the timeout wins, a later failure is already accounted for
    const report = await Promise.race([check, timeout]);
    run.log(`pre-flight: ${summaryLine(report.findings)} (report on the dashboard's pre-flight page)`);
  } catch (error) {
    run.log('pre-flight: the catalog could not be read, so no report this time; the backup goes on');
    run.logger.warn({ err: error }, 'pre-flight check before the backup failed');
  } finally {
    clearTimeout(timer);
  }
}
