import type { Queryable } from '../db/pool.ts';
import type { Schedule } from './schedule.ts';

export async function saveSchedule(
  db: Queryable,
  resourceId: string,
  schedule: Schedule,
  updatedBy: string,
): Promise<void> {
  await db.query(
    `insert into backup_schedules (resource_id, frequency, hour, minute, time_zone, updated_by) values ($1, $2, $3, $4, $5, $6)
     on conflict (resource_id) do update set frequency = excluded.frequency, hour = excluded.hour, minute = excluded.minute,
       time_zone = excluded.time_zone, updated_by = excluded.updated_by, updated_at = now()`,
    [
      resourceId,
      schedule.frequency,
      schedule.frequency === 'daily' ? schedule.hour : null,
      schedule.minute,
      schedule.timeZone,
      updatedBy,
    ],
  );
}

export async function findSchedule(db: Queryable, resourceId: string): Promise<Schedule | undefined> {
  const result = await db.query<{
    frequency: 'daily' | 'hourly';
    hour: number | null;
    minute: number;
    time_zone: string;
  }>('select frequency, hour, minute, time_zone from backup_schedules where resource_id = $1', [resourceId]);
  const row = result.rows[0];
  if (!row) return undefined;
  return row.frequency === 'daily'
    ? { frequency: 'daily', hour: row.hour!, minute: row.minute, timeZone: row.time_zone }
    : { frequency: 'hourly', minute: row.minute, timeZone: row.time_zone };
}

export async function deleteSchedule(db: Queryable, resourceId: string): Promise<boolean> {
  const result = await db.query('delete from backup_schedules where resource_id = $1', [resourceId]);
  return result.rowCount === 1;
}

/** When the schedule was last set: a new schedule gets a full grace period before it counts as stale. */
export async function findScheduleSetAt(db: Queryable, resourceId: string): Promise<Date | undefined> {
  const result = await db.query<{ updated_at: Date }>(
    'select updated_at from backup_schedules where resource_id = $1',
    [resourceId],
  );
  return result.rows[0]?.updated_at;
}
