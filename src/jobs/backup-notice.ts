import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { findBackup } from '../backups/backups.repo.ts';
import { findResource } from '../resources/resources.repo.ts';
import { findPlan } from '../resources/plans.ts';
import { noticeBackupCompleted, noticeBackupFailed, noticeBackupStarted } from '../notifications/backup-notices.ts';

/** Records the notification events of one backup step (started, completed, failed for good). */
export async function backupNotice(
  deps: JobDeps,
  { backupId, notice, attempt }: Payload<'backupNotice'>,
): Promise<void> {
  if (!deps.notify) throw new Error('the worker was started without notification settings');
  const outbox = { pool: deps.pool, boss: deps.boss, notify: deps.notify };
  const backup = await findBackup(deps.pool, backupId);
  if (!backup) return;
  switch (notice) {
    case 'started':
      return noticeBackupStarted(outbox, { ...backup, attempt });
    case 'failed':
      return noticeBackupFailed(outbox, backup, {
        kind: backup.failureKind ?? 'unknown',
        reason: backup.failureReason ?? 'no reason recorded',
      });
    case 'completed': {
      const resource = await findResource(deps.pool, backup.resourceId);
      const plan = resource && findPlan(resource.plan, deps.plans);
      if (!plan || backup.bytes === null) return;
      return noticeBackupCompleted(outbox, backup, {
        bytes: backup.bytes,
        databaseBytes: backup.sourceBytes ?? 0,
        plan,
      });
    }
  }
}
