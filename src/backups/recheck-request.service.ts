import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { z } from 'zod';
import { conflict, notFound } from '../errors.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { sendJob } from '../queue/send.ts';
import { findResourceBackup } from './backups.repo.ts';
import { latestRecheck, type ArchiveRecheck } from './rechecks.repo.ts';
import type { Backup } from './backup.ts';

/**
 * Asks for a re-check of one completed backup's stored archive now (the worker reads it whole and
 * compares its SHA-256; see archive-recheck.service.ts). One queued per backup: asking again while one
 * waits changes nothing. Another resource's backup is not found; an unfinished, failed or corrupt one
 * is refused with 409.
 */
export async function requestRecheck(
  deps: { pool: pg.Pool; boss: PgBoss },
  resourceId: string,
  backupId: string,
  requestedBy: string,
  ip: string | null = null,
): Promise<{ backup: Backup; queued: boolean }> {
  const backup = z.guid().safeParse(backupId).success
    ? await findResourceBackup(deps.pool, resourceId, backupId)
    : undefined;
  if (!backup) throw notFound('backup');
  if (backup.state !== 'completed' || !backup.objectKey) {
    throw conflict(`backup ${backup.name} is ${backup.state}; only a completed backup's archive can be re-checked`);
  }
  const jobId = await sendJob(deps.boss, 'recheckBackup', { backupId, requestedBy }, { singletonKey: backupId });
  await recordAudit(deps.pool, {
    resourceId,
    actor: requestedBy,
    action: 'backup.recheck_requested',
    detail: { backup: backup.name },
    ip,
  });
  return { backup, queued: jobId !== null };
}

/** The last re-check of a backup's archive, for its page and the API. */
export function lastRecheck(pool: pg.Pool, backupId: string): Promise<ArchiveRecheck | undefined> {
  return latestRecheck(pool, backupId);
}
