import type { Logger } from '../logger.ts';

/** Stops cleanly on SIGTERM/SIGINT (Heroku sends SIGTERM, then SIGKILL 30 s later); a second signal exits at once. */
export function onShutdown(logger: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: NodeJS.Signals) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    // The logger writes asynchronously: flush it, or a quick stop exits before its last lines are out.
    const exit = (code: number) => logger.flush(() => process.exit(code));
    stop().then(
      () => exit(0),
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        exit(1);
      },
    );
  };
  process.on('SIGTERM', handler);
  process.on('SIGINT', handler);
}

/** Prints a configuration or start-up failure readably and exits non-zero. */
export function exitOnBootFailure(error: unknown): never {
  process.stderr.write(`big-backup could not start.\n${(error as Error).message}\n`);
  process.exit(1);
}
