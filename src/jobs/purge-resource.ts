import type { Payload } from './queues.ts';
import type { JobDeps } from './deps.ts';
import { withTransaction } from '../db/pool.ts';
import { findResource, markResourcePurged } from '../resources/resources.repo.ts';
import { wipeAuthorization } from '../heroku/authorizations.repo.ts';
import { deleteResourceSessions, deleteResourceUsers } from '../users/resource-users.repo.ts';
import { deleteAudit } from '../audit/audit.repo.ts';

/**
 * Removes what a deprovisioned resource left with us: tokens, people, sessions and its audit trail. The
 * resource row stays as a tombstone so repeated Heroku calls stay idempotent. Safe to run twice.
 */
export async function purgeResource(deps: JobDeps, { resourceId }: Payload<'purgeResource'>): Promise<void> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource || resource.state !== 'deprovisioned' || resource.purgedAt) return;
  await withTransaction(deps.pool, async (tx) => {
    await wipeAuthorization(tx, resourceId);
    await deleteResourceSessions(tx, resourceId);
    await deleteResourceUsers(tx, resourceId);
    await deleteAudit(tx, resourceId);
    await markResourcePurged(tx, resourceId);
  });
  deps.logger.info({ resourceId }, 'purged deprovisioned resource');
}
