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

try {
  const stops: Array<() => Promise<void>> = [];
  let env: Record<string, string | undefined> = process.env;
  let banner: string | undefined;
  if (!process.env.DATABASE_URL) {
    const embedded = await startEmbeddedDefault(process.env.BIG_BACKUP_DATA_DIR ?? path.join(ROOT, '.data'), process.env);
    env = embedded.env;
    banner = embedded.banner;
    stops.push(embedded.stop);
  }
  const config = loadConfig(env);
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'big-backup', process: 'start' } });
  await migrateEverything(config.DATABASE_URL);
  const runtime = createRuntime(config, logger);
  const worker = await startWorker(runtime);
  const web = await startWeb(runtime);
  stops.unshift(async () => { await web.stop(); await worker.stop(); await runtime.pool.end(); });
  if (banner) process.stdout.write(banner);
  onShutdown(logger, async () => { for (const stop of stops) await stop(); });
} catch (error) {
  exitOnBootFailure(error);
}
