// The web process (Procfile `web`): HTTP only.
import { loadConfig } from '../config.ts';
import { createLogger } from '../logger.ts';
import { createRuntime } from '../processes/runtime.ts';
import { startWeb } from '../processes/web-process.ts';
import { onShutdown, exitOnBootFailure } from '../processes/shutdown.ts';

try {
  const config = loadConfig(process.env);
  const logger = createLogger({ level: config.LOG_LEVEL, base: { service: 'big-backup', process: 'web' } });
  const runtime = createRuntime(config, logger);
  const web = await startWeb(runtime);
  onShutdown(logger, async () => {
    await web.stop();
    await runtime.pool.end();
  });
} catch (error) {
  exitOnBootFailure(error);
}
