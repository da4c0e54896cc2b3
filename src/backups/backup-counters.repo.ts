import type { Queryable } from '../db/pool.ts';
import type { BackupTrigger } from './backup.ts';

/** The next number for a resource's backups of one trigger (b001, b002, … and a001, …), counted per row lock. */
export async function nextBackupNumber(db: Queryable, resourceId: string, trigger: BackupTrigger): Promise<number> {
  const counter = await db.query<{ last_number: number }>(
    `insert into backup_counters (resource_id, trigger, last_number) values ($1, $2, 1)
     on conflict (resource_id, trigger) do update set last_number = backup_counters.last_number + 1 returning last_number`,
    [resourceId, trigger],
  );
  return counter.rows[0]!.last_number;
}

/** Forgets a purged resource's backup numbering. */
export async function deleteBackupCounters(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from backup_counters where resource_id = $1', [resourceId]);
}
