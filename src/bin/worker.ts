// The worker process (Procfile `worker`): jobs, schedules and maintenance.
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createRuntime } from '../processes/runtime.ts';
import { startWorker } from '../processes/worker-process.ts';
import { onShutdown, exitOnBootFailure } from '../processes/shutdown.ts';

try {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'big-backup', process: 'worker' } });
  const runtime = createRuntime(config, logger);
  const worker = await startWorker(runtime);
  onShutdown(logger, async () => {
    await worker.stop();
    await runtime.pool.end();
  });
} catch (error) {
  exitOnBootFailure(error);
}
