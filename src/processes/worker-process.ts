import { createBoss } from '../jobs/boss.ts';
import { registerJobs } from '../jobs/register.ts';
import type { Runtime } from './runtime.ts';

/** A running worker process. */
export interface WorkerProcess {
  stop(): Promise<void>;
}

/** Runs jobs, schedules and pg-boss maintenance. */
export async function startWorker(runtime: Runtime, options: { pollingIntervalSeconds?: number } = {}): Promise<WorkerProcess> {
  const { config, logger, pool, partner } = runtime;
  const boss = createBoss(config.DATABASE_URL, 'worker');
  boss.on('error', (error: Error) => logger.error({ err: { message: error.message } }, 'pg-boss error (worker)'));
  await boss.start();
  await registerJobs(boss, { pool, boss, logger, partner }, options);
  logger.info('worker started');
  return {
    async stop() {
      // Dynos get 30 s after SIGTERM: let running jobs finish or fail within 25 s.
      await boss.stop({ graceful: true, timeout: 25_000, close: true });
    },
  };
}
