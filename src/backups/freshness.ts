import type { Queryable } from '../db/pool.ts';
import { newestVerifiedAt } from './backups.repo.ts';
import { findSchedule, findScheduleSetAt } from './schedules.repo.ts';
import { isStale, STALE_AFTER_INTERVALS } from './staleness.ts';

/** Whether the resource's backups are as fresh as its schedule promises. */
export interface Freshness {
  newestVerifiedAt: Date | null;
  /** True when a schedule is set and both the newest verified backup and the schedule's last change are over 1.5 intervals old. */
  stale: boolean;
  /** Why, in words for the dashboard; null when fresh or unscheduled. */
  warning: string | null;
}

/** The staleness alert: scheduled backups that have stopped producing verified archives must not go unnoticed. */
export async function backupFreshness(db: Queryable, resourceId: string, now: Date = new Date()): Promise<Freshness> {
  const [schedule, newest, setAt] = await Promise.all([
    findSchedule(db, resourceId),
    newestVerifiedAt(db, resourceId),
    findScheduleSetAt(db, resourceId),
  ]);
  // A schedule set or changed after the newest verified backup gets a full interval and a half of
  // its own before it can be late.
  const reference = newest && setAt ? (newest > setAt ? newest : setAt) : (newest ?? setAt);
  if (!schedule || !reference || !isStale(reference, schedule.frequency, now))
    return { newestVerifiedAt: newest, stale: false, warning: null };
  const every = schedule.frequency === 'daily' ? 'day' : 'hour';
  return {
    newestVerifiedAt: newest,
    stale: true,
    warning: newest
      ? `No backup has been verified for more than ${STALE_AFTER_INTERVALS} ${every}s, though backups are scheduled every ${every}. Check the failed ones below.`
      : `Backups are scheduled every ${every}, but none has been verified yet. Check the failed ones below.`,
  };
}
