import type pg from 'pg';
import type { Queryable } from './pool.ts';

/**
 * Runs `fn` on one client while it holds a session advisory lock on (`scope`, `key`), so that runs for
 * the same key are serialised across every process. The lock is released even when `fn` throws (and
 * by PostgreSQL if the connection dies).
 */
export async function withAdvisoryLock<T>(
  pool: pg.Pool,
  scope: string,
  key: string,
  fn: (client: Queryable) => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('select pg_advisory_lock(hashtext($1), hashtext($2))', [scope, key]);
    return await fn(client);
  } finally {
    await client.query('select pg_advisory_unlock(hashtext($1), hashtext($2))', [scope, key]).catch(() => {});
    client.release();
  }
}
