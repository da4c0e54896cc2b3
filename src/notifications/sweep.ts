import type { Logger } from '../logger.ts';
import { backupName } from '../backups/backup.ts';
import { newestVerifiedAt } from '../backups/backups.repo.ts';
import { isStale } from '../backups/staleness.ts';
import { withTransaction } from '../db/pool.ts';
import { emitEvent, type OutboxDeps } from './outbox.ts';
import {
  activateCondition,
  clearCondition,
  listAlertBackupEvents,
  listReconnectedConditions,
  listReconnectNeeded,
  listScheduledResources,
  markConditionNotified,
  type Condition,
} from './notification-conditions.repo.ts';
import type { EventKind, EventPayload } from './events.ts';

/** A condition that lasts is announced again at most this often (stale: once a day). */
export const REPEAT_EVERY_MS = 86_400_000;
/** Backup events older than this are not announced (a sweep that was down for long does not flood). */
const BACKUP_EVENT_HORIZON_MS = 7 * 86_400_000;

/** What a sweep found and announced. */
export interface SweepReport {
  stale: number;
  reconnect: number;
  backupEvents: number;
}

/**
 * The periodic job's work (every minute, not when someone views a page): backups older than 1.5
 * schedule intervals, Heroku connections that need reconnecting, and the drill and archive events
 * other parts record. Each lasting condition is announced when it begins and at most daily after.
 */
export async function sweepNotifications(deps: OutboxDeps & { logger: Logger }, now: Date): Promise<SweepReport> {
  const report: SweepReport = { stale: 0, reconnect: 0, backupEvents: 0 };
  for (const schedule of await listScheduledResources(deps.pool)) {
    const newest = await newestVerifiedAt(deps.pool, schedule.resourceId);
    // A schedule set after the newest verified backup gets its own interval and a half.
    const reference = newest && newest > schedule.setAt ? newest : schedule.setAt;
    if (!isStale(reference, schedule.frequency, now)) {
      await clearCondition(deps.pool, schedule.resourceId, 'stale');
      continue;
    }
    const payload: EventPayload = {
      newestVerifiedAt: newest ? newest.toISOString() : null,
      frequency: schedule.frequency,
    };
    if (await announce(deps, schedule.resourceId, 'stale', 'backups.stale', reference, now, payload)) report.stale++;
  }
  for (const connection of await listReconnectNeeded(deps.pool)) {
    const payload: EventPayload = connection.reason ? { reason: connection.reason } : {};
    if (await announce(deps, connection.resourceId, 'reconnect', 'reconnect.needed', connection.since, now, payload))
      report.reconnect++;
  }
  for (const resourceId of await listReconnectedConditions(deps.pool))
    await clearCondition(deps.pool, resourceId, 'reconnect');
  const events = await listAlertBackupEvents(deps.pool, new Date(now.getTime() - BACKUP_EVENT_HORIZON_MS));
  for (const event of events) {
    const stored = await emitEvent(deps, {
      resourceId: event.resourceId,
      kind: event.state as EventKind,
      dedupeKey: `backup-event:${event.id}`,
      occurredAt: event.at,
      payload: {
        backup: backupName(event.trigger, event.number),
        backupId: event.backupId,
        ...(event.detail ? { reason: event.detail } : {}),
      },
    });
    if (stored) report.backupEvents++;
  }
  if (report.stale + report.reconnect + report.backupEvents > 0) deps.logger.info(report, 'notifications announced');
  return report;
}

/**
 * Announces a lasting condition when it is first seen and then at most once per REPEAT_EVERY_MS.
 * The dedupe key names the day of the condition's life, so two sweeps at once announce it once.
 */
async function announce(
  deps: OutboxDeps,
  resourceId: string,
  condition: Condition,
  kind: EventKind,
  since: Date,
  now: Date,
  payload: EventPayload,
): Promise<boolean> {
  return withTransaction(deps.pool, async (tx) => {
    const state = await activateCondition(tx, resourceId, condition, since);
    if (state.lastNotifiedAt && now.getTime() - state.lastNotifiedAt.getTime() < REPEAT_EVERY_MS) return false;
    if (!(await markConditionNotified(tx, resourceId, condition, state.lastNotifiedAt, now))) return false;
    const day = Math.floor((now.getTime() - state.activeSince.getTime()) / REPEAT_EVERY_MS);
    const stored = await emitEvent(
      deps,
      {
        resourceId,
        kind,
        dedupeKey: `${condition}:${state.activeSince.toISOString()}:${day}`,
        occurredAt: now,
        payload,
      },
      { db: tx },
    );
    return stored !== undefined;
  });
}
