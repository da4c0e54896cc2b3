import { createBoss } from '../queue/boss.ts';
import { registerJobs } from '../jobs/register.ts';
import { PieceSessionPool } from '../jobs/sharded/piece-sessions.ts';
import type { Runtime } from './runtime.ts';
import { openObjectStore } from '../storage/open-object-store.ts';
import { storageUrl } from './storage-url.ts';
import { connectDeps } from '../heroku/connect-authorization.ts';
import { listPgBinaries, removeStaleSpools, uncoveredServerMajors } from '../engine/index.ts';
import type { Logger } from '../logger.ts';
import { notifyDepsFrom } from '../notifications/notify-config.ts';

/** A running worker process. */
export interface WorkerProcess {
  stop(): Promise<void>;
}

/** Runs jobs, schedules and pg-boss maintenance. */
export async function startWorker(
  runtime: Runtime,
  options: { pollingIntervalSeconds?: number; cancelPollMs?: number } = {},
): Promise<WorkerProcess> {
  const { config, logger, pool, partner, secrets } = runtime;
  const store = await openObjectStore(storageUrl(config), config.AWS);
  const boss = createBoss(config.DATABASE_URL, 'worker');
  boss.on('error', (error: Error) => logger.error({ err: error }, 'pg-boss error (worker)'));
  await boss.start();
  const notify = notifyDepsFrom(config);
  const pieceSessions = new PieceSessionPool();
  const jobs = await registerJobs(
    boss,
    {
      pool,
      boss,
      logger,
      partner,
      secrets,
      store,
      connect: connectDeps({ pool, secrets }, config),
      pieceSessions,
      hosts: { allowPrivate: config.ALLOW_PRIVATE_DATABASE_HOSTS },
      recheck: { bytesPerHour: config.RECHECK_BYTES_PER_HOUR },
      drills: {
        spoolMaxBytes: config.DRILL_SPOOL_MAX_BYTES,
        pollIntervalMs: config.FORK_POLL_INTERVAL_SECONDS * 1000,
        ...(config.NODE_ENV !== 'production' && config.DRILL_TEST_ALTER_SQL
          ? { alterRestoredSql: config.DRILL_TEST_ALTER_SQL }
          : {}),
      },
      notify,
      forks: {
        readyTimeoutMs: config.FORK_READY_TIMEOUT_SECONDS * 1000,
        pollIntervalMs: config.FORK_POLL_INTERVAL_SECONDS * 1000,
      },
      backup: {
        stallTimeoutMs: config.BACKUP_STALL_TIMEOUT_SECONDS * 1000,
        minThroughput: {
          bytesPerSecond: config.BACKUP_MIN_THROUGHPUT_BYTES_PER_SECOND,
          windowMs: config.BACKUP_MIN_THROUGHPUT_WINDOW_SECONDS * 1000,
        },
        ...(config.PG_BIN_DIR ? { pgBinDir: config.PG_BIN_DIR } : {}),
        ...(options.cancelPollMs ? { cancelPollMs: options.cancelPollMs } : {}),
        shardSplitSizeBytes: config.SHARD_SPLIT_SIZE,
      },
    },
    {
      ...options,
      concurrency: {
        backups: config.BACKUP_CONCURRENCY,
        perTenant: config.BACKUP_TENANT_CONCURRENCY,
        pieces: config.PIECE_CONCURRENCY,
      },
    },
  );
  logger.info({ storage: store.location }, 'archives go to storage');
  await reportPgBinaries(logger, config.PG_BIN_DIR);
  // Issue 15: archives a killed worker had spooled for a restore drill.
  const spools = await removeStaleSpools();
  if (spools.length > 0) logger.info({ spools }, 'removed restore drill spools of workers that stopped');
  logger.info('worker started');
  return {
    async stop() {
      // Dynos get 30 s after SIGTERM. Running jobs are told to stop now (a backup fails as interrupted,
      // for a retry elsewhere) and pg-boss waits for them to settle, up to 20 s, before closing.
      jobs.interrupt();
      await boss.stop({ graceful: true, timeout: 20_000, close: true });
      await pieceSessions.close();
      await store.close();
      notify.mailer?.close();
    },
  };
}

/** Says at start which pg_dumps the backups will choose from, and which supported server majors none can dump. */
async function reportPgBinaries(logger: Logger, binDir: string | undefined): Promise<void> {
  const { found } = await listPgBinaries(binDir ? { binDir } : {});
  logger.info({ pgDump: found.map((b) => ({ version: b.version, path: b.pgDump })) }, 'pg_dump binaries found');
  const uncovered = uncoveredServerMajors(found);
  if (uncovered.length > 0) {
    logger.warn(
      { uncovered },
      `no pg_dump here can back up PostgreSQL ${uncovered.join(', ')}: install postgresql-client-${uncovered.at(-1)} (the Aptfile on Heroku) or set PG_BIN_DIR`,
    );
  }
}
