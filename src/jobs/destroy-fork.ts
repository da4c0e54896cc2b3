import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { destroyForkNow } from '../forks/fork-teardown.ts';
import { forkAlreadyDestroyed } from '../forks/forks.repo.ts';

/**
 * Destroys a fork a backup attempt created: sent on every exit path of the attempt (success, failure,
 * cancel), and again by the fork janitor for forks a dead worker left. Safe to run any number of times;
 * a fork already recorded as destroyed (by the janitor, or by the purge of a deprovisioned resource,
 * whose grant is gone) is not asked for again.
 */
export async function destroyFork(deps: JobDeps, fork: Payload<'destroyFork'>): Promise<'destroyed' | 'already-gone'> {
  if (await forkAlreadyDestroyed(deps.pool, fork.backupId, fork.addonId)) return 'already-gone';
  const outcome = await destroyForkNow(deps, fork);
  deps.logger.info({ backupId: fork.backupId, addonId: fork.addonId, outcome }, 'fork torn down');
  return outcome;
}
