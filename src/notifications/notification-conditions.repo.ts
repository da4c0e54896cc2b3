import type { Queryable } from '../db/pool.ts';
import type { BackupTrigger } from '../backups/backup.ts';

/** Conditions that last, each with its own repeat throttle (see notices). */
export type Condition = 'backup_failing' | 'stale' | 'reconnect' | 'near_limit';

/** A condition as stored: when it began and when we last told anyone. */
export interface ConditionState {
  activeSince: Date;
  lastNotifiedAt: Date | null;
}

/** Records that the condition holds from `since` (kept when already recorded). Returns its state. */
export async function activateCondition(
  db: Queryable,
  resourceId: string,
  condition: Condition,
  since: Date,
): Promise<ConditionState> {
  const result = await db.query<ConditionState>(
    `insert into notification_conditions (resource_id, condition, active_since) values ($1, $2, $3)
     on conflict (resource_id, condition) do update set active_since = notification_conditions.active_since
     returning active_since as "activeSince", last_notified_at as "lastNotifiedAt"`,
    [resourceId, condition, since],
  );
  return result.rows[0]!;
}

/**
 * Marks the condition announced at `at`, only if nobody did since `previous` (compare and set), so two
 * sweeps at once announce it once. True when this caller won.
 */
export async function markConditionNotified(
  db: Queryable,
  resourceId: string,
  condition: Condition,
  previous: Date | null,
  at: Date,
): Promise<boolean> {
  const result = await db.query(
    `update notification_conditions set last_notified_at = $4
     where resource_id = $1 and condition = $2 and last_notified_at is not distinct from $3`,
    [resourceId, condition, previous, at],
  );
  return result.rowCount === 1;
}

/** Ends the condition. True when it was active (the caller announces a recovery once). */
export async function clearCondition(db: Queryable, resourceId: string, condition: Condition): Promise<boolean> {
  const result = await db.query('delete from notification_conditions where resource_id = $1 and condition = $2', [
    resourceId,
    condition,
  ]);
  return result.rowCount === 1;
}

/** Resources with a schedule, for the stale sweep: id, frequency and the schedule's last change. */
export async function listScheduledResources(
  db: Queryable,
): Promise<Array<{ resourceId: string; frequency: 'daily' | 'hourly'; setAt: Date }>> {
  const result = await db.query<{ resourceId: string; frequency: 'daily' | 'hourly'; setAt: Date }>(
    `select s.resource_id as "resourceId", s.frequency, s.updated_at as "setAt"
     from backup_schedules s join resources r on r.id = s.resource_id
     where r.state = 'provisioned' order by s.resource_id`,
  );
  return result.rows;
}

/** Heroku connections that stopped working, with the reason and when that was recorded. */
export async function listReconnectNeeded(
  db: Queryable,
): Promise<Array<{ resourceId: string; reason: string | null; since: Date }>> {
  const result = await db.query<{ resourceId: string; reason: string | null; since: Date }>(
    `select c.resource_id as "resourceId", c.last_error as reason, c.updated_at as since
     from heroku_connections c join resources r on r.id = c.resource_id
     where c.status = 'reconnect_needed' and r.state = 'provisioned'`,
  );
  return result.rows;
}

/** Resources whose connection is fine again while a reconnect condition is still recorded. */
export async function listReconnectedConditions(db: Queryable): Promise<string[]> {
  const result = await db.query<{ resource_id: string }>(
    `select n.resource_id from notification_conditions n
     left join heroku_connections c on c.resource_id = n.resource_id
     where n.condition = 'reconnect' and (c.status is null or c.status <> 'reconnect_needed')`,
  );
  return result.rows.map((row) => row.resource_id);
}

/** A backup event a customer hears of. */
export interface AlertBackupEvent {
  id: string;
  resourceId: string;
  backupId: string;
  trigger: BackupTrigger;
  number: number;
  state: string;
  detail: string | null;
  at: Date;
}

/** Backup events recorded for customers to hear of (drill failed, archive corrupt) since `after`. */
export async function listAlertBackupEvents(db: Queryable, after: Date): Promise<AlertBackupEvent[]> {
  const result = await db.query<AlertBackupEvent>(
    `select e.id::text, b.resource_id as "resourceId", b.id as "backupId",
       b.trigger, b.number,
       e.state, e.detail, e.at
     from backup_events e join backups b on b.id = e.backup_id
     where e.state in ('drill.failed', 'archive.corrupt') and e.at > $1
       and not exists (select 1 from notification_events n
                       where n.resource_id = b.resource_id and n.dedupe_key = 'backup-event:' || e.id)
     order by e.id limit 500`,
    [after],
  );
  return result.rows;
}
