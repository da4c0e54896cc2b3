import type { Queryable } from '../db/pool.ts';

/** Records a step in a backup's history (migration 0002): a state it entered, in which attempt, and why. */
export async function recordEvent(
  db: Queryable,
  id: string,
  attempt: number,
  state: string,
  detail: string | null = null,
): Promise<void> {
  await db.query('insert into backup_events (backup_id, attempt, state, detail) values ($1, $2, $3, $4)', [
    id,
    attempt,
    state,
    detail,
  ]);
}

export async function listEvents(
  db: Queryable,
  id: string,
): Promise<Array<{ attempt: number; state: string; detail: string | null; at: Date }>> {
  const result = await db.query(
    'select attempt, state, detail, at from backup_events where backup_id = $1 order by id',
    [id],
  );
  return result.rows as Array<{ attempt: number; state: string; detail: string | null; at: Date }>;
}
