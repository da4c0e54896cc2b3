import type { Logger } from '../logger.ts';
import type { JobDeps } from './deps.ts';
import type { OutboxDeps } from '../notifications/outbox.ts';

/**
 * Records a notification about a backup (issue 16). A notification that cannot be recorded is logged
 * and never changes the backup's outcome; without notification settings, nothing is recorded.
 */
export async function tellChannels(
  deps: JobDeps,
  logger: Logger,
  work: (outbox: OutboxDeps) => Promise<void>,
): Promise<void> {
  if (!deps.notify) return;
  try {
    await work({ pool: deps.pool, boss: deps.boss, notify: deps.notify });
  } catch (error) {
    logger.warn({ err: error }, 'could not record a notification');
  }
}
