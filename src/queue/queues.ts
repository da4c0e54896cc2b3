import { z } from 'zod';
import type { PgBoss, Queue } from 'pg-boss';

/**
 * Every queue, its payload schema and its policy, in one place. The web process imports this file to
 * send jobs; only the worker imports the handlers (jobs/register.ts).
 */
export const QUEUES = {
  exchangeGrant: {
    name: 'heroku-exchange-grant',
    payload: z.object({ resourceId: z.guid() }),
    // Grant codes die about five minutes after Heroku issues them: retry quickly, give up in minutes.
    options: { retryLimit: 8, retryDelay: 2, retryBackoff: true, retryDelayMax: 60, expireInSeconds: 60 },
  },
  backup: {
    name: 'backup',
    payload: z.object({ backupId: z.guid() }),
    // One queued-or-running backup per resource (singletonKey = resource id). Heartbeats let a dead
    // worker's job be retried within minutes instead of at expiry; expiry per job comes from the plan.
    options: {
      policy: 'exclusive',
      heartbeatSeconds: 60,
      retryLimit: 3,
      retryDelay: 60,
      retryBackoff: true,
      retryDelayMax: 3600,
      expireInSeconds: 23 * 3600,
      retentionSeconds: 7 * 86_400,
    },
  },
  backupPiece: {
    name: 'backup-piece',
    payload: z.object({ backupId: z.guid(), attempt: z.number().int().min(1), piece: z.number().int().min(0) }),
    // One piece of a sharded backup (jobs/sharded/): short, so heartbeats find a lost worker within
    // minutes and a retry redoes only this piece. The dispatcher sends each piece once (under the
    // backup's row lock); pieces that keep failing fail their backup, naming the piece.
    options: {
      heartbeatSeconds: 60,
      retryLimit: 3,
      retryDelay: 30,
      retryBackoff: true,
      retryDelayMax: 600,
      expireInSeconds: 6 * 3600,
      retentionSeconds: 7 * 86_400,
    },
  },
  backupAssemble: {
    name: 'backup-assemble',
    payload: z.object({ backupId: z.guid(), attempt: z.number().int().min(1) }),
    // Joins a sharded backup's pieces into its one archive and verifies it: one per backup at a time
    // (singletonKey = backup id); the archive is read through once, so a big one takes hours.
    options: {
      policy: 'exclusive',
      heartbeatSeconds: 60,
      retryLimit: 2,
      retryDelay: 60,
      retryBackoff: true,
      expireInSeconds: 23 * 3600,
      retentionSeconds: 7 * 86_400,
    },
  },
  shardSweeper: {
    name: 'shard-sweeper',
    payload: z.object({}).loose(),
    // Every minute, one at a time across all workers: dispatches waiting pieces, resumes stuck ones,
    // stops sharded backups that were canceled or ran past their deadline.
    options: { policy: 'singleton', retryLimit: 1, retryDelay: 30, expireInSeconds: 600 },
  },
  backupScheduled: {
    name: 'backup-scheduled',
    payload: z.object({ resourceId: z.guid() }),
    // A schedule tick: turns into at most one backup per slot (see jobs/backup-scheduled.ts).
    options: { retryLimit: 3, retryDelay: 30, retryBackoff: true, expireInSeconds: 300 },
  },
  backupPrune: {
    name: 'backup-prune',
    payload: z.object({ resourceId: z.guid() }),
    // One queued-or-running prune per resource; the handler also holds an advisory lock.
    options: { policy: 'exclusive', retryLimit: 5, retryDelay: 60, retryBackoff: true, expireInSeconds: 1800 },
  },
  backupJanitor: {
    name: 'backup-janitor',
    payload: z.object({}).loose(),
    // Scheduled every 10 minutes; one at a time across all workers.
    options: { policy: 'singleton', retryLimit: 1, retryDelay: 60, expireInSeconds: 1800 },
  },
  destroyFork: {
    name: 'fork-destroy',
    payload: z.object({
      resourceId: z.guid(),
      backupId: z.guid(),
      addonId: z.string().min(1),
      appName: z.string().min(1),
    }),
    // Idempotent (404 counts as destroyed); a fork left standing costs the customer money, so keep trying
    // for hours, and the fork janitor tries again after that.
    options: { retryLimit: 12, retryDelay: 15, retryBackoff: true, retryDelayMax: 1800, expireInSeconds: 300 },
  },
  forkJanitor: {
    name: 'fork-janitor',
    payload: z.object({}).loose(),
    // Scheduled every 10 minutes; one at a time across all workers.
    options: { policy: 'singleton', retryLimit: 1, retryDelay: 60, expireInSeconds: 1800 },
  },
  resealSecrets: {
    name: 'reseal-secrets',
    payload: z.object({}).loose(),
    // Sent at every worker start and scheduled daily; one at a time across all workers; idempotent.
    options: { policy: 'singleton', retryLimit: 3, retryDelay: 60, retryBackoff: true, expireInSeconds: 1800 },
  },
  preflight: {
    name: 'preflight',
    payload: z.object({ resourceId: z.guid(), trigger: z.enum(['source_set', 'connected']) }),
    // The pre-flight risk report when a source is set or connected (preflight.service.ts): catalog
    // queries only, seconds; a source that cannot be reached gives a report saying so, not a retry.
    options: { retryLimit: 2, retryDelay: 30, retryBackoff: true, expireInSeconds: 300 },
  },
  // Issue 15: stored archives re-read over time (a rolling pass), and one backup's archive on request.
  recheckArchives: {
    name: 'archive-recheck-pass',
    payload: z.object({}).loose(),
    // Scheduled every 10 minutes; one at a time across all workers; the byte budget paces it.
    options: { policy: 'singleton', retryLimit: 1, retryDelay: 60, expireInSeconds: 6 * 3600 },
  },
  recheckBackup: {
    name: 'archive-recheck',
    payload: z.object({ backupId: z.guid(), requestedBy: z.string().min(1).max(200) }),
    // One queued-or-running re-check per backup (singletonKey = backup id).
    options: {
      policy: 'exclusive',
      retryLimit: 3,
      retryDelay: 60,
      retryBackoff: true,
      expireInSeconds: 12 * 3600,
      heartbeatSeconds: 60,
    },
  },
  purgeResource: {
    name: 'resource-purge',
    payload: z.object({ resourceId: z.guid() }),
    options: { retryLimit: 10, retryDelay: 10, retryBackoff: true, retryDelayMax: 3600, expireInSeconds: 900 },
  },
  // Notifications (issue 16): one job per outbox row; the row, not the job, says whether it was sent.
  deliverNotification: {
    name: 'notification-deliver',
    payload: z.object({ deliveryId: z.string().regex(/^[0-9]+$/) }),
    // Retries with backoff: 2-4 s, 4-8 s, ... up to an hour apart, about six hours in all.
    options: {
      retryLimit: 15,
      retryDelay: 2,
      retryBackoff: true,
      retryDelayMax: 3600,
      expireInSeconds: 120,
      retentionSeconds: 7 * 86_400,
    },
  },
  backupNotice: {
    name: 'backup-notice',
    payload: z.object({
      backupId: z.guid(),
      notice: z.enum(['started', 'completed', 'failed']),
      attempt: z.number().int().min(1),
    }),
    // Turns a backup's step into notification events, after the backup's own job has ended (so the
    // resource's one backup slot is free at once); idempotent (events have dedupe keys).
    options: { retryLimit: 8, retryDelay: 5, retryBackoff: true, retryDelayMax: 600, expireInSeconds: 120 },
  },
  notificationSweep: {
    name: 'notification-sweep',
    payload: z.object({}).loose(),
    // Every minute: stale backups, reconnects needed, drill and archive events; one at a time.
    options: { policy: 'singleton', retryLimit: 1, retryDelay: 30, expireInSeconds: 300 },
  },
} as const satisfies Record<string, { name: string; payload: z.ZodType; options: Omit<Queue, 'name'> }>;

export type QueueKey = keyof typeof QUEUES;
export type Payload<K extends QueueKey> = z.infer<(typeof QUEUES)[K]['payload']>;

/** Failed jobs land here after their last retry, where they stay visible and can be redriven. */
export const deadLetterName = (queue: string) => `${queue}-dead-letter`;

/**
 * Creates every queue and its dead-letter queue, then applies the current options (createQueue does
 * nothing for an existing queue, so changed retry or expiry settings would otherwise never take effect).
 */
export async function ensureQueues(boss: PgBoss): Promise<void> {
  for (const queue of Object.values(QUEUES)) {
    const deadLetter = deadLetterName(queue.name);
    await boss.createQueue(deadLetter, { retentionSeconds: 30 * 86_400, deleteAfterSeconds: 30 * 86_400 });
    const options = { ...queue.options, deadLetter };
    await boss.createQueue(queue.name, options);
    const { policy: _policy, ...mutable } = options as Omit<Queue, 'name'>;
    await boss.updateQueue(queue.name, mutable);
  }
}
