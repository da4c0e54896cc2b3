import type { Queryable } from '../db/pool.ts';

/** The purpose a sealed log input URL is bound to. */
export const SEALED_LOG_INPUT = 'log_input_url';

/** Stores (or replaces) the app's sealed Logplex input URL. */
export async function saveLogInput(db: Queryable, resourceId: string, urlCiphertext: string): Promise<void> {
  await db.query(
    `insert into resource_log_inputs (resource_id, url_ciphertext) values ($1, $2)
     on conflict (resource_id) do update set url_ciphertext = excluded.url_ciphertext, updated_at = now()`,
    [resourceId, urlCiphertext],
  );
}

export async function findLogInput(db: Queryable, resourceId: string): Promise<string | undefined> {
  const result = await db.query<{ url_ciphertext: string }>(
    'select url_ciphertext from resource_log_inputs where resource_id = $1',
    [resourceId],
  );
  return result.rows[0]?.url_ciphertext;
}
