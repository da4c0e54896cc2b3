import type { Queryable } from '../db/pool.ts';
import type { Role } from '../users/resource-users.repo.ts';

/** An API token as lists show it; the secret itself is never stored. */
export interface ApiToken {
  id: string;
  resourceId: string;
  name: string;
  prefix: string;
  role: Role;
  createdBy: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  revokedAt: Date | null;
  revokedBy: string | null;
}

interface Row {
  id: string;
  resource_id: string;
  name: string;
  prefix: string;
  role: Role;
  created_by: string;
  created_at: Date;
  last_used_at: Date | null;
  last_used_ip: string | null;
  revoked_at: Date | null;
  revoked_by: string | null;
}

const COLUMNS =
  'id, resource_id, name, prefix, role, created_by, created_at, last_used_at, last_used_ip, revoked_at, revoked_by';

function toToken(row: Row): ApiToken {
  return {
    id: row.id,
    resourceId: row.resource_id,
    name: row.name,
    prefix: row.prefix,
    role: row.role,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    lastUsedIp: row.last_used_ip,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
  };
}

export async function insertApiToken(
  db: Queryable,
  token: {
    id: string;
    resourceId: string;
    name: string;
    tokenHash: string;
    prefix: string;
    role: Role;
    createdBy: string;
  },
): Promise<ApiToken> {
  const result = await db.query<Row>(
    `insert into api_tokens (id, resource_id, name, token_hash, prefix, role, created_by) values ($1, $2, $3, $4, $5, $6, $7)
     returning ${COLUMNS}`,
    [token.id, token.resourceId, token.name, token.tokenHash, token.prefix, token.role, token.createdBy],
  );
  return toToken(result.rows[0]!);
}

export async function listApiTokens(db: Queryable, resourceId: string): Promise<ApiToken[]> {
  const result = await db.query<Row>(
    `select ${COLUMNS} from api_tokens where resource_id = $1 order by created_at desc`,
    [resourceId],
  );
  return result.rows.map(toToken);
}

/** The live token with this hash, recording its use in the same statement. Revoked tokens are not found. */
export async function useApiToken(db: Queryable, tokenHash: string, ip: string | null): Promise<ApiToken | undefined> {
  const result = await db.query<Row>(
    `update api_tokens set last_used_at = now(), last_used_ip = $2 where token_hash = $1 and revoked_at is null returning ${COLUMNS}`,
    [tokenHash, ip],
  );
  const row = result.rows[0];
  return row && toToken(row);
}

/** Revokes one of the resource's tokens; false when there is no such live token on this resource. */
export async function revokeApiToken(
  db: Queryable,
  resourceId: string,
  id: string,
  revokedBy: string,
): Promise<boolean> {
  const result = await db.query(
    'update api_tokens set revoked_at = now(), revoked_by = $3 where resource_id = $1 and id = $2 and revoked_at is null',
    [resourceId, id, revokedBy],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Deletes every token of the resource, live or revoked (the purge after deprovisioning). */
export async function deleteResourceApiTokens(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from api_tokens where resource_id = $1', [resourceId]);
}
