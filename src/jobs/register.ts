import type { PgBoss, WorkOptions } from 'pg-boss';
import { QUEUES, ensureQueues, type QueueKey, type Payload } from '../queue/queues.ts';
import type { JobContext, JobDeps } from './deps.ts';
import { exchangeGrant } from './exchange-grant.ts';
import { purgeResource } from './purge-resource.ts';
import { runBackup } from './run-backup.ts';
import { backupJanitor } from './backup-janitor.ts';
import { backupScheduled } from './backup-scheduled.ts';
import { backupPrune } from './backup-prune.ts';
import { destroyFork } from './destroy-fork.ts';
import { forkJanitor } from './fork-janitor.ts';
import { resealSecrets } from './reseal-secrets.ts';
import { preflight } from './preflight.ts';
import { recheckArchives, recheckBackup } from './recheck-archives.ts';
import { sendJob } from '../queue/send.ts';
import { deliverNotificationJob } from './deliver-notification.ts';
import { notificationSweep } from './notification-sweep.ts';
import { backupNotice } from './backup-notice.ts';
import { runPiece } from './sharded/run-piece.ts';
import { assembleBackup } from './sharded/assemble-backup.ts';
import { shardSweeper } from './sharded/shard-sweeper.ts';

// What a handler returns is for its tests; pg-boss only learns whether it threw.
type Handler<K extends QueueKey> = (deps: JobDeps, payload: Payload<K>, job: JobContext) => Promise<unknown>;

/** The only list of job handlers. The web process never imports this file. */
const HANDLERS: { [K in QueueKey]: Handler<K> } = {
  backup: runBackup,
  backupPiece: runPiece,
  backupAssemble: assembleBackup,
  shardSweeper,
  backupScheduled,
  backupPrune,
  backupJanitor,
  exchangeGrant,
  purgeResource,
  destroyFork,
  forkJanitor,
  resealSecrets,
  preflight,
  recheckArchives,
  recheckBackup,
  deliverNotification: deliverNotificationJob,
  notificationSweep,
  backupNotice,
};

/** The registered handlers, as the worker's shutdown needs them. */
export interface RegisteredJobs {
  /**
   * Tells every running handler, and any that starts from now on, to stop, as pg-boss itself only
   * does once its graceful wait has run out: a backup cannot finish in a dyno's 30 s, and stopping it
   * at once leaves it the time to kill pg_dump, abort its upload and record the interruption.
   */
  interrupt(): void;
}

/** How many jobs a worker process runs at once. */
export interface WorkerConcurrency {
  /** Backups this process runs at once (pg-boss `localConcurrency`); default 1. */
  backups?: number;
  /**
   * Backups one tenant (the job's group, see backups.service.ts backupTenant) runs at once across every
   * worker (pg-boss `groupConcurrency`, counted in the database); default 1.
   */
  perTenant?: number;
  /** Pieces of sharded backups this process dumps at once, whichever backups they belong to; default 4. */
  pieces?: number;
}

/**
 * Creates the queues and starts a worker for each. Handlers throw to fail (pg-boss then retries and,
 * at the end, dead-letters); they never swallow errors, which would mark the job completed.
 *
 * Backups run several at a time, each fetched by its own pg-boss worker: never two of one resource
 * (the queue is exclusive per resource: one job queued or running), and never more than `perTenant`
 * of one tenant, which pg-boss leaves queued while that many of its group are active, so the slots go
 * to other tenants' backups first.
 */
export async function registerJobs(
  boss: PgBoss,
  deps: JobDeps,
  options: { pollingIntervalSeconds?: number; concurrency?: WorkerConcurrency } = {},
): Promise<RegisteredJobs> {
  const stopping = new AbortController();
  await ensureQueues(boss);
  const workOptions = (key: QueueKey): WorkOptions => ({
    pollingIntervalSeconds: options.pollingIntervalSeconds ?? 2,
    ...(key === 'backup'
      ? {
          localConcurrency: options.concurrency?.backups ?? 1,
          groupConcurrency: options.concurrency?.perTenant ?? 1,
        }
      : {}),
    ...(key === 'backupPiece' ? { localConcurrency: options.concurrency?.pieces ?? 4 } : {}),
  });
  for (const key of Object.keys(HANDLERS) as QueueKey[]) {
    const queue = QUEUES[key];
    const handler = HANDLERS[key] as Handler<QueueKey>;
    await boss.work(queue.name, workOptions(key), async ([job]) => {
      if (!job) return;
      const logger = deps.logger.child({ queue: queue.name, jobId: job.id, retryCount: job.retryCount });
      const payload = queue.payload.parse(job.data);
      try {
        const signal = AbortSignal.any([job.signal, stopping.signal]);
        await handler({ ...deps, logger }, payload, {
          id: job.id,
          signal,
          retryCount: job.retryCount,
          expireInSeconds: job.expireInSeconds,
        });
      } catch (error) {
        logger.warn({ err: error }, 'job attempt failed');
        throw error;
      }
    });
  }
  // Upserts by name and key, so every worker may say it at start-up; pg-boss sends one job per tick.
  await boss.schedule(QUEUES.backupJanitor.name, '*/10 * * * *', {}, { key: 'every-10-minutes' });
  await boss.schedule(QUEUES.forkJanitor.name, '*/10 * * * *', {}, { key: 'every-10-minutes' });
  await boss.schedule(QUEUES.resealSecrets.name, '40 3 * * *', {}, { key: 'daily' });
  await boss.schedule(QUEUES.recheckArchives.name, '5-59/10 * * * *', {}, { key: 'every-10-minutes' });
  await boss.schedule(QUEUES.notificationSweep.name, '* * * * *', {}, { key: 'every-minute' });
  await boss.schedule(QUEUES.shardSweeper.name, '* * * * *', {}, { key: 'every-minute' });
  // A new ENCRYPTION_KEY is a config change, which restarts every dyno: re-seal under it at once.
  await sendJob(boss, 'resealSecrets', {});
  return { interrupt: () => stopping.abort(new Error('the worker is shutting down')) };
}
