import type { Payload } from '../queue/queues.ts';
import type { JobDeps } from './deps.ts';
import { sweepNotifications, type SweepReport } from '../notifications/sweep.ts';

/** The minute's sweep: stale backups, reconnects needed, drill and archive events (see notifications/sweep.ts). */
export async function notificationSweep(deps: JobDeps, _payload: Payload<'notificationSweep'>): Promise<SweepReport> {
  if (!deps.notify) throw new Error('the worker was started without notification settings');
  const now = deps.notify.now?.() ?? new Date();
  return sweepNotifications({ ...deps, notify: deps.notify }, now);
}
