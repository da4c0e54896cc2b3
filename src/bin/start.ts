// `npm start`: release step, web and worker in one process. With no DATABASE_URL it runs the embedded
// default: PostgreSQL under .data/, generated development secrets and a local Heroku simulator.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { migrateEverything } from '../db/release.ts';
import { createRuntime } from '../processes/runtime.ts';
import { startWeb } from '../processes/web-process.ts';
import { startWorker } from '../processes/worker-process.ts';
import { onShutdown, exitOnBootFailure } from '../processes/shutdown.ts';
import { startEmbeddedDefault } from '../embedded/embedded-default.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// What has started, latest first; stopped on shutdown and when a later step fails, so a failed start
// never leaves the embedded PostgreSQL holding the data folder for the next one.
const stops: Array<() => Promise<void>> = [];

/** Runs every stop, even after one fails; rejects with the first failure. */
async function stopAll(): Promise<void> {
  const failures: unknown[] = [];
  for (const stop of stops.splice(0)) await stop().catch((error: unknown) => { failures.push(error); });
  if (failures.length > 0) throw failures[0];
}

try {
  // One logger from the start, so a signal during start-up is logged and stops what has started so far.
  const logger = createLogger({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'big-backup', process: 'start' } });
  onShutdown(logger, stopAll);
  let env: Record<string, string | undefined> = process.env;
  let banner: string | undefined;
  if (!process.env.DATABASE_URL) {
    const embedded = await startEmbeddedDefault(process.env.BIG_BACKUP_DATA_DIR ?? path.join(ROOT, '.data'), process.env);
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
  if (banner) process.stdout.write(banner);
} catch (error) {
  await stopAll().catch(() => {});
  exitOnBootFailure(error);
}
