import type { Queryable } from '../db/pool.ts';

/** A key's count in its current window, and when that window ends (by the database clock). */
export interface RateLimitWindow {
  hits: number;
  resetAt: Date;
}

/** The key's open window, if one is open. */
export async function findOpenWindow(db: Queryable, key: string): Promise<RateLimitWindow | undefined> {
  const result = await db.query<{ hits: number; reset_at: Date }>(
    'select hits, reset_at from rate_limit_hits where key = $1 and reset_at > now()',
    [key],
  );
  const row = result.rows[0];
  return row && { hits: row.hits, resetAt: row.reset_at };
}

/** Counts one hit in one upsert: the first hit, or the first after a window ended, opens a window of `windowSeconds`. */
export async function countHit(db: Queryable, key: string, windowSeconds: number): Promise<RateLimitWindow> {
  const result = await db.query<{ hits: number; reset_at: Date }>(
    `insert into rate_limit_hits (key, hits, reset_at) values ($1, 1, now() + make_interval(secs => $2))
     on conflict (key) do update set
       hits = case when rate_limit_hits.reset_at <= now() then 1 else rate_limit_hits.hits + 1 end,
       reset_at = case when rate_limit_hits.reset_at <= now() then excluded.reset_at else rate_limit_hits.reset_at end
     returning hits, reset_at`,
    [key, windowSeconds],
  );
  const row = result.rows[0]!;
  return { hits: row.hits, resetAt: row.reset_at };
}

/** Takes back one hit of the open window. */
export async function uncountHit(db: Queryable, key: string): Promise<void> {
  await db.query('update rate_limit_hits set hits = hits - 1 where key = $1 and reset_at > now() and hits > 0', [key]);
}

export async function deleteWindow(db: Queryable, key: string): Promise<void> {
  await db.query('delete from rate_limit_hits where key = $1', [key]);
}

/** Deletes the ended windows of every key that starts with `prefix`. */
export async function deleteEndedWindows(db: Queryable, prefix: string): Promise<void> {
  await db.query('delete from rate_limit_hits where key like $1 and reset_at <= now()', [
    `${prefix.replace(/[\\%_]/g, '\\$&')}%`,
  ]);
}

/**
 * Deletes every window keyed on one add-on (`api-resource:<id>`, `writes-resource:<id>`): its id must not
 * outlive the purge, even for the minute a window lasts.
 */
export async function deleteResourceWindows(db: Queryable, resourceId: string): Promise<void> {
  await db.query("delete from rate_limit_hits where key in ('api-resource:' || $1, 'writes-resource:' || $1)", [
    resourceId,
  ]);
}
