import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { findResource } from '../resources/resources.repo.ts';
import { findPlan } from '../resources/plans.ts';
import { findSchedule } from '../backups/schedules.repo.ts';
import { decideRetention } from '../backups/retention.ts';
import { deleteBackup, listResourceBackups } from '../backups/backups.repo.ts';
import { withAdvisoryLock } from '../db/advisory-lock.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { listDrillPassedBackupIds } from '../backups/drills.repo.ts';

/**
 * Applies the plan's retention to one resource: deletes each archive, then its row, for every backup
 * the policy lets go (never the newest verified one). Runs serialised per resource under an advisory
 * lock, so two prunes can neither delete below the floor nor delete one object twice.
 */
export async function backupPrune(
  deps: JobDeps,
  { resourceId }: Payload<'backupPrune'>,
  _job?: unknown,
  now = new Date(),
): Promise<string[]> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource || resource.state !== 'provisioned') return [];
  return withAdvisoryLock(deps.pool, 'backup-prune', resourceId, async (client) => {
    const schedule = await findSchedule(client, resourceId);
    const backups = await listResourceBackups(client, resourceId, 100_000);
    const decision = decideRetention({
      backups,
      retention: findPlan(resource.plan)!.retention,
      timeZone: schedule?.timeZone ?? 'UTC',
      now,
      drillPassed: await listDrillPassedBackupIds(client, resourceId),
    });
    const deleted: string[] = [];
    for (const doomed of decision.delete) {
      const backup = backups.find((b) => b.id === doomed.id)!;
      // Object first: a row without its object is harmless and the next prune retries; an object
      // without its row would be invisible (the janitor would still find it).
      if (backup.objectKey) await deps.store.delete(backup.objectKey);
      await deleteBackup(client, resourceId, backup.id);
      await recordAudit(client, {
        resourceId,
        actor: 'system',
        action: 'backup.pruned',
        detail: { backup: backup.name, reason: doomed.reason },
      });
      deleted.push(backup.id);
    }
    return deleted;
  });
}
