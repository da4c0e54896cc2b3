import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { withTransaction } from '../db/pool.ts';
import { findResource, markResourcePurged } from '../resources/resources.repo.ts';
import { wipeAuthorization } from '../heroku/authorizations.repo.ts';
import { deleteResourceSessions, deleteResourceUsers } from '../users/resource-users.repo.ts';
import { deleteAudit } from '../audit/audit.repo.ts';
import { deleteResourceApiTokens } from '../api-tokens/api-tokens.repo.ts';
import { rememberPurgedLinks } from '../links/links.repo.ts';
import { QUEUES } from '../queue/queues.ts';
import { deleteSchedule } from '../backups/schedules.repo.ts';
import { deleteSource } from '../backups/sources.repo.ts';
import { deleteResourceBackups, hasRunningAttempt, listResourceBackupIds } from '../backups/backups.repo.ts';
import { deleteBackupCounters } from '../backups/backup-counters.repo.ts';
import { deleteResourceWindows } from '../rate-limits/rate-limit-hits.repo.ts';
import { forgetResourceJobs } from '../queue/forget-jobs.ts';
import { listResourceForkIntents, listResourceLiveForks } from '../forks/forks.repo.ts';
import { destroyForkNow, destroyUnrecordedFork } from '../forks/fork-teardown.ts';
import { deleteResourceReports } from '../preflight/preflight.repo.ts';
import { deleteConnection } from '../heroku/connect-connections.repo.ts';
import { deleteResourceNotifications } from '../notifications/notification-events.repo.ts';
import { ConnectionUnavailableError } from '../heroku/connect-authorization.ts';
import { hasRunningDrill, listResourceDrillTargets } from '../backups/drills.repo.ts';
import { destroyDrillTarget } from '../forks/restore-drill.ts';

/**
 * Removes what a deprovisioned resource left with us: its schedule, every archive and backup, its source,
 * API tokens, download links, people, sessions, audit trail, and the finished job rows that name it. The resource row stays as a tombstone
 * so repeated Heroku calls stay idempotent, with a digest of each removed link's token (so the link
 * answers 410). Safe to run twice (a purge interrupted half-way finishes on the retry).
 */
export async function purgeResource(deps: JobDeps, { resourceId }: Payload<'purgeResource'>): Promise<void> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource || resource.state !== 'deprovisioned' || resource.purgedAt) return;
  // A backup still running sees the cancel flag (set at deprovision) and stops; wait for that, by retrying.
  if (await hasRunningAttempt(deps.pool, resourceId))
    throw new Error('a backup of this resource is still stopping; the purge will retry');
  // A restore drill notices the deprovision within its next heartbeat and stops; wait for that too.
  if (await hasRunningDrill(deps.pool, resourceId, 5 * 60_000))
    throw new Error('a restore drill of this resource is still stopping; the purge will retry');
  await deps.boss.unschedule(QUEUES.backupScheduled.name, resourceId);
  // Forks are the customer's billed add-ons: destroy them while the connected grant still exists (a
  // failure throws, and the purge retries before anything is wiped). Without a usable grant nobody but
  // the customer can remove them; that must not keep their data with us.
  for (const fork of await listResourceLiveForks(deps.pool, resourceId)) {
    try {
      await destroyForkNow(deps, fork);
    } catch (error) {
      if (!((error as Error).cause instanceof ConnectionUnavailableError)) throw error;
      deps.logger.warn(
        { resourceId, addonId: fork.addonId },
        'a fork could not be destroyed: the Heroku connection is gone',
      );
    }
  }
  // Issue 15: the empty databases restore drills made, the same way.
  for (const target of await listResourceDrillTargets(deps.pool, resourceId)) {
    try {
      await destroyDrillTarget(deps, target);
    } catch (error) {
      if (!(
        error instanceof ConnectionUnavailableError || (error as Error).cause instanceof ConnectionUnavailableError
      ))
        throw error;
      deps.logger.warn(
        { resourceId, drillId: target.drillId },
        'a drill database could not be destroyed: the Heroku connection is gone',
      );
    }
  }
  // And forks an attempt asked for but never recorded (see migration 0011), found by attachment name.
  for (const intent of await listResourceForkIntents(deps.pool, resourceId)) {
    try {
      await destroyUnrecordedFork(deps, intent);
    } catch (error) {
      if (!(error instanceof ConnectionUnavailableError)) throw error;
      deps.logger.warn(
        { resourceId, attachment: intent.attachmentName },
        'an unrecorded fork could not be looked for: the Heroku connection is gone',
      );
    }
  }
  // Archives first: rows can be rebuilt from nothing, objects left behind would be customer data we keep.
  // On a versioned bucket a plain delete only hides an archive behind a marker: purge every version.
  const purged = await deps.store.purge(`tenants/${resourceId}/`);
  if (!purged.everyVersion)
    deps.logger.warn(
      { resourceId, removed: purged.removed, store: deps.store.location },
      'the store cannot list object versions: deleted current objects only; older versions, if the bucket keeps them, remain',
    );
  for (const upload of await deps.store.listIncompleteUploads(`tenants/${resourceId}/`))
    await deps.store.abortIncompleteUpload(upload);
  // Job rows naming the resource or its backups would outlive it by pg-boss's retention. Before the
  // rows go, so a purge that fails here finds the backup ids again on its retry.
  const backupIds = await listResourceBackupIds(deps.pool, resourceId);
  const forgotten = await forgetResourceJobs(deps.boss, resourceId, backupIds);
  deps.logger.debug({ resourceId, forgotten }, 'forgot finished jobs of the purged resource');
  await withTransaction(deps.pool, async (tx) => {
    // Links go with their backups; the tombstone remembers them so they answer 410, not 404.
    await rememberPurgedLinks(tx, resourceId);
    await deleteResourceBackups(tx, resourceId);
    await deleteBackupCounters(tx, resourceId);
    await deleteResourceWindows(tx, resourceId);
    await deleteSchedule(tx, resourceId);
    await deleteSource(tx, resourceId);
    await deleteConnection(tx, resourceId);
    await deleteResourceReports(tx, resourceId);
    await deleteResourceNotifications(tx, resourceId);
    await wipeAuthorization(tx, resourceId);
    await deleteResourceSessions(tx, resourceId);
    await deleteResourceApiTokens(tx, resourceId);
    await deleteResourceUsers(tx, resourceId);
    await deleteAudit(tx, resourceId);
    await markResourcePurged(tx, resourceId);
  });
  deps.logger.info({ resourceId }, 'purged deprovisioned resource');
}
