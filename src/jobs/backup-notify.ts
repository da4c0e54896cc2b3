import type { Logger } from '../logger.ts';
import type { JobDeps } from './deps.ts';
import type { Payload } from '../queue/queues.ts';
import { sendJob } from '../queue/send.ts';

/**
 * Asks for a notification about a backup's step (issue 16), as a job of its own: the backup's job
 * ends as soon as its own work is done, so the resource's one queued-or-running slot is not held
 * while notifications are recorded. A request that cannot be queued is logged and never changes the
 * backup's outcome; without notification settings, nothing is asked.
 */
export async function tellChannels(deps: JobDeps, logger: Logger, notice: Payload<'backupNotice'>): Promise<void> {
  if (!deps.notify) return;
  try {
    await sendJob(deps.boss, 'backupNotice', notice);
  } catch (error) {
    logger.warn({ err: error, notice: notice.notice }, 'could not queue a backup notification');
  }
}
