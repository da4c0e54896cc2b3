import type { ScheduleFrequency } from '../resources/plans.ts';

/** The nominal time between two scheduled backups (a DST day is an hour off; the margin covers it). */
export const SCHEDULE_INTERVAL_MS: Readonly<Record<ScheduleFrequency, number>> = {
  daily: 86_400_000,
  hourly: 3_600_000,
};

/** How many intervals the newest verified backup may be old before we alert. */
export const STALE_AFTER_INTERVALS = 1.5;

/**
 * True when the newest verified backup finished more than 1.5 schedule intervals before `now`.
 * When nothing has verified yet, pass when the schedule was created, so a new schedule gets the
 * same grace before it alerts.
 */
export function isStale(newestCompletedAt: Date, frequency: ScheduleFrequency, now: Date): boolean {
  return now.getTime() - newestCompletedAt.getTime() > STALE_AFTER_INTERVALS * SCHEDULE_INTERVAL_MS[frequency];
}
