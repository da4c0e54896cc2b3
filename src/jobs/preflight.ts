import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { findSourceSetting } from '../backups/sources.repo.ts';
import { checkResource, type PreflightDeps } from '../preflight/preflight.service.ts';
import { countBySeverity } from '../preflight/finding.ts';

/** What the pre-flight check uses of a job's dependencies. */
export function preflightDeps(deps: JobDeps): PreflightDeps {
  return {
    pool: deps.pool,
    secrets: deps.secrets,
    ...(deps.connect ? { connect: deps.connect } : {}),
    ...(deps.hosts ? { hosts: deps.hosts } : {}),
    ...(deps.backup.pgBinDir ? { pgBinDir: deps.backup.pgBinDir } : {}),
    ...(deps.plans ? { plans: deps.plans } : {}),
  };
}

/**
 * The pre-flight report of a source just set or connected. A resource whose source went away since
 * is skipped; an unreachable database is a stored finding, not a failure.
 */
export async function preflight(deps: JobDeps, { resourceId, trigger }: Payload<'preflight'>): Promise<void> {
  if (!(await findSourceSetting(deps.pool, resourceId))) return;
  const report = await checkResource(preflightDeps(deps), resourceId, trigger);
  // Counts only: the findings name the customer's tables and roles.
  deps.logger.info({ resourceId, trigger, ...countBySeverity(report.findings) }, 'preflight report stored');
}
