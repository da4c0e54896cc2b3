// `npm start`: release step, web and worker in one process. With no DATABASE_URL it runs the embedded
// default: PostgreSQL under .data/, generated development secrets and a local Heroku simulator.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { migrateEverything } from '../../src/processes/release.ts';
import { createRuntime } from '../../src/processes/runtime.ts';
import { startWeb } from '../../src/processes/web-process.ts';
import { startWorker } from '../../src/processes/worker-process.ts';
import { onShutdown, exitOnBootFailure } from '../../src/processes/shutdown.ts';
import { startEmbeddedDefault } from '../embedded/embedded-default.ts';
import { terminalDestination } from '../log/terminal-destination.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// What has started, latest first; stopped on shutdown and when a later step fails, so a failed start
// never leaves the embedded PostgreSQL holding the data folder for the next one.
const stops: Array<() => Promise<void>> = [];

/** Runs every stop, even after one fails; rejects with the first failure. */
async function stopAll(): Promise<void> {
  const failures: unknown[] = [];
  for (const stop of stops.splice(0))
    await stop().catch((error: unknown) => {
      failures.push(error);
    });
  if (failures.length > 0) throw failures[0];
}

try {
  // One logger from the start, so a signal during start-up is logged and stops what has started so far.
  // Readable lines on a terminal, JSON otherwise (as in production).
  const destination = terminalDestination();
  const logger = createLogger({
    level: process.env.LOG_LEVEL ?? 'info',
    base: { service: 'big-backup', process: 'start' },
    ...(destination ? { destination } : {}),
  });
  onShutdown(logger, stopAll);
  let env: Record<string, string | undefined> = process.env;
  let banner: string | undefined;
  if (!process.env.DATABASE_URL) {
    const embedded = await startEmbeddedDefault(
      process.env.BIG_BACKUP_DATA_DIR ?? path.join(ROOT, '.data'),
      process.env,
      {
        info: (line) => logger.info(line),
        warn: (line) => logger.warn(line),
      },
    );
    env = embedded.env;
    banner = embedded.banner;
    stops.unshift(() => embedded.stop());
  }
  const config = loadConfig(env);
  await migrateEverything(config.DATABASE_URL);
  const runtime = createRuntime(config, logger);
  stops.unshift(() => runtime.pool.end());
  const worker = await startWorker(runtime);
  stops.unshift(() => worker.stop());
  const web = await startWeb(runtime);
  stops.unshift(() => web.stop());
  // After the log lines written so far, which pino-pretty prints from its own thread.
  if (banner) logger.flush(() => process.stdout.write(banner));
} catch (error) {
  await stopAll().catch(() => {});
  exitOnBootFailure(error);
}
