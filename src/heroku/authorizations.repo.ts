import type { Queryable } from '../db/pool.ts';

/** The stored partner authorization of one resource; secret columns are sealed (see SecretBox). */
export interface AuthorizationRow {
  resourceId: string;
  grantCodeCiphertext: string | null;
  grantExpiresAt: Date | null;
  accessTokenCiphertext: string | null;
  accessTokenExpiresAt: Date | null;
  refreshTokenCiphertext: string | null;
  status: 'pending' | 'active' | 'failed' | 'revoked';
  failureReason: string | null;
}

const COLUMNS = `resource_id as "resourceId", grant_code_ciphertext as "grantCodeCiphertext", grant_expires_at as "grantExpiresAt",
  access_token_ciphertext as "accessTokenCiphertext", access_token_expires_at as "accessTokenExpiresAt",
  refresh_token_ciphertext as "refreshTokenCiphertext", status, failure_reason as "failureReason"`;

export async function insertPendingAuthorization(
  db: Queryable,
  resourceId: string,
  grant: { codeCiphertext: string | null; expiresAt: Date | null },
): Promise<void> {
  await db.query(
    `insert into heroku_authorizations (resource_id, grant_code_ciphertext, grant_expires_at, status)
     values ($1, $2, $3, $4) on conflict (resource_id) do nothing`,
    [resourceId, grant.codeCiphertext, grant.expiresAt, grant.codeCiphertext ? 'pending' : 'failed'],
  );
  if (!grant.codeCiphertext) {
    await markAuthorizationFailed(db, resourceId, 'Heroku sent no OAuth grant with the provision request');
  }
}

export async function findAuthorization(
  db: Queryable,
  resourceId: string,
  { lock = false } = {},
): Promise<AuthorizationRow | undefined> {
  const result = await db.query<AuthorizationRow>(
    `select ${COLUMNS} from heroku_authorizations where resource_id = $1${lock ? ' for update' : ''}`,
    [resourceId],
  );
  return result.rows[0];
}

/** Stores fresh tokens; the grant code is single-use, so it is dropped once exchanged. */
export async function storeTokens(
  db: Queryable,
  resourceId: string,
  tokens: { accessCiphertext: string; refreshCiphertext: string; expiresAt: Date },
  via: 'exchange' | 'refresh',
): Promise<void> {
  await db.query(
    `update heroku_authorizations set access_token_ciphertext = $2, refresh_token_ciphertext = $3, access_token_expires_at = $4,
       status = 'active', failure_reason = null, grant_code_ciphertext = null,
       ${via === 'exchange' ? 'exchanged_at' : 'refreshed_at'} = now(), updated_at = now()
     where resource_id = $1`,
    [resourceId, tokens.accessCiphertext, tokens.refreshCiphertext, tokens.expiresAt],
  );
}

export async function markAuthorizationFailed(
  db: Queryable,
  resourceId: string,
  reason: string,
  status: 'failed' | 'revoked' = 'failed',
): Promise<void> {
  await db.query(
    `update heroku_authorizations set status = $3, failure_reason = $2, grant_code_ciphertext = null, updated_at = now()
     where resource_id = $1`,
    [resourceId, reason, status],
  );
}

/** Forgets every secret of the authorization (deprovision: Heroku revokes it anyway). */
export async function wipeAuthorization(db: Queryable, resourceId: string): Promise<void> {
  await db.query(
    `update heroku_authorizations set grant_code_ciphertext = null, access_token_ciphertext = null, refresh_token_ciphertext = null,
       status = 'revoked', failure_reason = 'the add-on was deprovisioned', updated_at = now() where resource_id = $1`,
    [resourceId],
  );
}
