import type { Queryable } from '../db/pool.ts';

/** Appends log lines of one attempt in a single statement. */
export async function appendLogs(db: Queryable, id: string, attempt: number, lines: string[]): Promise<void> {
  if (lines.length === 0) return;
  await db.query('insert into backup_logs (backup_id, attempt, message) select $1, $2, unnest($3::text[])', [
    id,
    attempt,
    lines,
  ]);
}

/** Log lines one read returns at most. */
export const LOG_PAGE = 500;

/**
 * Log lines, oldest first, with their ids so a live view can ask for more. With `afterId` 0 (a page
 * opening) the last `limit` lines; after an id, the next `limit` lines in order, so a reader that
 * fell behind (a background tab) catches up page by page instead of skipping what it missed.
 */
export async function logsAfter(
  db: Queryable,
  id: string,
  afterId: number,
  limit = LOG_PAGE,
): Promise<Array<{ id: number; attempt: number; at: Date; message: string }>> {
  const result =
    afterId > 0
      ? await db.query(
          'select id::int as id, attempt, at, message from backup_logs where backup_id = $1 and id > $2 order by id limit $3',
          [id, afterId, limit],
        )
      : await db.query(
          `select id::int as id, attempt, at, message from (
         select * from backup_logs where backup_id = $1 order by id desc limit $2) t order by id`,
          [id, limit],
        );
  return result.rows as Array<{ id: number; attempt: number; at: Date; message: string }>;
}

export async function tailLogs(
  db: Queryable,
  id: string,
  limit = 200,
): Promise<Array<{ attempt: number; at: Date; message: string }>> {
  const result = await db.query(
    'select attempt, at, message from (select * from backup_logs where backup_id = $1 order by id desc limit $2) t order by id',
    [id, limit],
  );
  return result.rows as Array<{ attempt: number; at: Date; message: string }>;
}
