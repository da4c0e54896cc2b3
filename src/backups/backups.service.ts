import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { withTransaction } from '../db/pool.ts';
import { AppError, conflict, notFound } from '../errors.ts';
import { findResource } from '../resources/resources.repo.ts';
import { findPlan } from '../resources/plans.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { sendJob } from '../queue/send.ts';
import {
  insertBackup,
  requestCancel,
  findResourceBackup,
  cancelPending,
  pageResourceBackups,
  findBackupContents,
  type NewBackup,
} from './backups.repo.ts';
import { listEvents } from './backup-events.repo.ts';
import { hasShardedBackupInFlight } from './sharded-backups.repo.ts';
import { logsAfter, LOG_PAGE } from './backup-logs.repo.ts';
import { parseOr422 } from '../validate.ts';
import { z } from 'zod';
import { QUEUES } from '../queue/queues.ts';
import { findBackupDeadLetter, type DeadLetter } from '../queue/dead-letters.ts';
import type { Backup, BackupFormat, BackupTrigger } from './backup.ts';

export interface BackupsDeps {
  pool: pg.Pool;
  boss: PgBoss;
}

/** Raised when the resource already has a backup queued or running (the queue allows one). */
export const ALREADY_RUNNING = 'backup_already_running';

/**
 * The tenant whose backups share one slot at a time (see jobs/register.ts): the Heroku app, once the
 * grant exchange has learned it, so one app's many add-ons cannot take every slot at a scheduled hour;
 * until then, the add-on itself.
 */
export function backupTenant(resource: { id: string; appId: string | null }): string {
  return resource.appId ?? resource.id;
}

/**
 * Creates the backup row and sends its job in one transaction. The backup queue is exclusive per
 * resource, so when a backup is already queued or running the send returns null and the whole request
 * (row and number included) rolls back into a readable refusal. A scheduled slot already taken returns
 * undefined. The job carries its tenant as its pg-boss group.
 */
export async function requestBackup(
  deps: BackupsDeps,
  resourceId: string,
  request: { trigger: BackupTrigger; requestedBy: string; format?: BackupFormat; slotKey?: string; ip?: string | null },
): Promise<Backup | undefined> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource || resource.state !== 'provisioned') throw notFound('add-on resource');
  const plan = findPlan(resource.plan)!;
  return withTransaction(deps.pool, async (tx) => {
    // A backup dumped in pieces has no backup job holding the queue's slot: ask the rows.
    if (await hasShardedBackupInFlight(tx, resourceId)) throw alreadyRunning();
    const fields: NewBackup = {
      id: randomUUID(),
      resourceId,
      trigger: request.trigger,
      format: request.format ?? 'default',
      requestedBy: request.requestedBy,
      slotKey: request.slotKey ?? null,
    };
    const backup = await insertBackup(tx, fields);
    if (!backup) return undefined;
    const jobId = await sendJob(
      deps.boss,
      'backup',
      { backupId: backup.id },
      {
        db: tx,
        singletonKey: resourceId,
        group: { id: backupTenant(resource) },
        expireInSeconds: plan.maxBackupHours * 3600 - 1,
      },
    );
    if (!jobId) throw alreadyRunning();
    await recordAudit(tx, {
      resourceId,
      actor: request.requestedBy,
      action: 'backup.requested',
      detail: { backup: backup.name, trigger: request.trigger, format: fields.format },
      ip: request.ip ?? null,
    });
    return backup;
  });
}

function alreadyRunning(): AppError {
  return new AppError(
    ALREADY_RUNNING,
    409,
    'A backup of this database is already queued or running; your plan runs one at a time. Wait for it to finish, or cancel it.',
  );
}

/**
 * Asks a backup to stop. One no attempt is running (not started, or waiting to retry) ends as canceled at
 * once; a running one is stopped
 * by its worker within seconds (pg_dump killed, upload aborted) and then shows as canceled.
 */
export async function cancelBackup(
  deps: BackupsDeps,
  resourceId: string,
  backupId: string,
  requestedBy: string,
  ip: string | null = null,
): Promise<Backup> {
  const backup = z.guid().safeParse(backupId).success
    ? await findResourceBackup(deps.pool, resourceId, backupId)
    : undefined;
  if (!backup) throw notFound('backup');
  if (!(await requestCancel(deps.pool, resourceId, backupId)))
    throw conflict(`backup ${backup.name} has already finished`);
  // Read again after asking: an attempt that failed retryably meanwhile left the backup pending, and
  // the flag alone would wait for the retry (minutes to an hour away) to be noticed.
  const now = (await findResourceBackup(deps.pool, resourceId, backupId)) ?? backup;
  // A backup dumped in pieces has no one job to notice the flag: its running pieces do within seconds,
  // and the sweeper, asked now rather than at its next minute, ends it when none is running.
  if (now.captureMode === 'sharded') await sendJob(deps.boss, 'shardSweeper', {});
  if (now.state === 'pending') {
    const reason =
      now.attempt === 0
        ? `canceled by ${requestedBy} before it started`
        : `canceled by ${requestedBy} while waiting to retry`;
    if (await cancelPending(deps.pool, backupId, reason)) {
      // Its job (waiting to start, or to retry after a failed attempt) holds the resource's one queued
      // slot; cancel it so the next capture is not refused until the retry would have come round. The
      // job may still be active: a failed attempt writes the backup back to pending a moment before its
      // handler returns and pg-boss queues the retry. No attempt runs now (the row is pending), and
      // pg-boss settles only active jobs, so canceling it there is safe and keeps the retry from coming.
      const jobs = await deps.boss.findJobs(QUEUES.backup.name, { data: { backupId } });
      const open = jobs.filter((job) => UNSETTLED_JOB_STATES.includes(job.state));
      if (open.length > 0)
        await deps.boss.cancel(
          QUEUES.backup.name,
          open.map((job) => job.id),
        );
    }
  }
  await recordAudit(deps.pool, {
    resourceId,
    actor: requestedBy,
    action: 'backup.cancel_requested',
    detail: { backup: backup.name },
    ip,
  });
  return (await findResourceBackup(deps.pool, resourceId, backupId))!;
}

/** pg-boss job states before a job is settled (completed, canceled or failed). */
const UNSETTLED_JOB_STATES: readonly string[] = ['created', 'retry', 'active'];

/** Backups per page on the dashboard and in the API. */
export const PAGE_SIZE = 50;

const pageQuery = z.object({ page: z.coerce.number().int().min(1).max(1_000_000).default(1) }).loose();

/** One page of the resource's backups, newest first. `query` is the request's (page=N), validated here. */
export async function listBackups(deps: Pick<BackupsDeps, 'pool'>, resourceId: string, query: unknown) {
  const { page } = parseOr422(pageQuery, query ?? {});
  const { backups, total, busy } = await pageResourceBackups(deps.pool, resourceId, {
    limit: PAGE_SIZE,
    offset: (page - 1) * PAGE_SIZE,
  });
  return { backups, total, busy, page, pages: Math.max(1, Math.ceil(total / PAGE_SIZE)) };
}

/** One of the resource's backups, or 404 (another resource's id included). */
export async function getBackup(
  deps: Pick<BackupsDeps, 'pool'>,
  resourceId: string,
  backupId: string,
): Promise<Backup> {
  const backup = z.guid().safeParse(backupId).success
    ? await findResourceBackup(deps.pool, resourceId, backupId)
    : undefined;
  if (!backup) throw notFound('backup');
  return backup;
}

/** Everything the backup's page shows: state changes, the log (after a line id, for live views) and contents. */
export async function getBackupDetail(
  deps: Pick<BackupsDeps, 'pool'>,
  resourceId: string,
  backupId: string,
  options: { logsAfter?: number } = {},
) {
  const backup = await getBackup(deps, resourceId, backupId);
  const [events, logs, contents] = await Promise.all([
    listEvents(deps.pool, backup.id),
    logsAfter(deps.pool, backup.id, options.logsAfter ?? 0),
    findBackupContents(deps.pool, resourceId, backup.id),
  ]);
  // A full page after a line id means the reader is behind: more lines are there to fetch at once.
  const logsMore = (options.logsAfter ?? 0) > 0 && logs.length === LOG_PAGE;
  return { backup, events, logs, logsMore, contents: contents ?? null };
}

/**
 * Whether the queue gave up on a failed backup after its last retry (its job is in the dead-letter
 * queue), with how many attempts it made. Only a failed backup can have one.
 */
export async function backupGaveUp(
  deps: Pick<BackupsDeps, 'boss'>,
  backup: Backup,
): Promise<(DeadLetter & { attempts: number }) | null> {
  if (backup.state !== 'failed') return null;
  const deadLetter = await findBackupDeadLetter(deps.boss, backup.id);
  return deadLetter && { ...deadLetter, attempts: backup.attempt };
}

const captureInput = z
  .object({ format: z.enum(['default', 'fast'], { error: 'format must be default or fast' }).default('default') })
  .strict();

/** "Capture now" from the dashboard or the API: a manual backup in the format asked for. */
export async function captureNow(
  deps: BackupsDeps,
  resourceId: string,
  input: unknown,
  requestedBy: string,
  ip: string | null = null,
): Promise<Backup> {
  const { format } = parseOr422(captureInput, input ?? {});
  const backup = await requestBackup(deps, resourceId, { trigger: 'manual', requestedBy, format, ip });
  return backup!;
}
