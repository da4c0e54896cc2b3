import type { Queryable } from '../db/pool.ts';

/**
 * Records that a sign-on token (by its hash) was used, and forgets uses older than `retentionSeconds`,
 * which must be longer than any token stays acceptable (SSO_TOKEN_USE_RETENTION_SECONDS). False when
 * the token was used before: a replay.
 */
export async function claimSsoTokenUse(db: Queryable, tokenHash: string, retentionSeconds: number): Promise<boolean> {
  await db.query(`delete from sso_token_uses where used_at < now() - make_interval(secs => $1)`, [retentionSeconds]);
  const used = await db.query('insert into sso_token_uses (token_hash) values ($1) on conflict do nothing', [
    tokenHash,
  ]);
  return used.rowCount === 1;
}
