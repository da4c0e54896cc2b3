import type { Queryable } from '../db/pool.ts';

/** A download link as lists show it; the token itself is never stored, only its SHA-256. */
export interface DownloadLink {
  id: string;
  resourceId: string;
  backupId: string;
  prefix: string;
  createdBy: string;
  /** The creator's stable id (see Actor.id); null for links made before it was kept. */
  createdById: string | null;
  createdIp: string | null;
  createdAt: Date;
  expiresAt: Date;
  revokedAt: Date | null;
  revokedBy: string | null;
  lastUsedAt: Date | null;
  lastUsedIp: string | null;
  useCount: number;
}

interface Row {
  id: string;
  resource_id: string;
  backup_id: string;
  prefix: string;
  created_by: string;
  created_by_id: string | null;
  created_ip: string | null;
  created_at: Date;
  expires_at: Date;
  revoked_at: Date | null;
  revoked_by: string | null;
  last_used_at: Date | null;
  last_used_ip: string | null;
  use_count: number;
}

const COLUMNS = `id, resource_id, backup_id, prefix, created_by, created_by_id, created_ip, created_at, expires_at, revoked_at, revoked_by,
  last_used_at, last_used_ip, use_count`;
const L_COLUMNS = COLUMNS.split(',')
  .map((c) => 'l.' + c.trim())
  .join(', ');

function toLink(row: Row): DownloadLink {
  return {
    id: row.id,
    resourceId: row.resource_id,
    backupId: row.backup_id,
    prefix: row.prefix,
    createdBy: row.created_by,
    createdById: row.created_by_id,
    createdIp: row.created_ip,
    createdAt: row.created_at,
    expiresAt: row.expires_at,
    revokedAt: row.revoked_at,
    revokedBy: row.revoked_by,
    lastUsedAt: row.last_used_at,
    lastUsedIp: row.last_used_ip,
    useCount: row.use_count,
  };
}

export interface NewDownloadLink {
  id: string;
  resourceId: string;
  backupId: string;
  tokenHash: string;
  prefix: string;
  createdBy: string;
  createdById: string;
  createdIp: string | null;
  expiresInSeconds: number;
}

/** Inserts a link expiring `expiresInSeconds` from now by the database clock (the one redemption checks). */
export async function insertDownloadLink(db: Queryable, link: NewDownloadLink): Promise<DownloadLink> {
  const result = await db.query<Row>(
    `insert into download_links (id, resource_id, backup_id, token_hash, prefix, created_by, created_by_id, created_ip, expires_at)
     values ($1, $2, $3, $4, $5, $6, $7, $8, now() + make_interval(secs => $9)) returning ${COLUMNS}`,
    [
      link.id,
      link.resourceId,
      link.backupId,
      link.tokenHash,
      link.prefix,
      link.createdBy,
      link.createdById,
      link.createdIp,
      link.expiresInSeconds,
    ],
  );
  return toLink(result.rows[0]!);
}

/** A backup's links, newest first, scoped to the resource. */
export async function listDownloadLinks(db: Queryable, resourceId: string, backupId: string): Promise<DownloadLink[]> {
  const result = await db.query<Row>(
    `select ${COLUMNS} from download_links where resource_id = $1 and backup_id = $2 order by created_at desc, id`,
    [resourceId, backupId],
  );
  return result.rows.map(toLink);
}

/** Tenant-scoped lookup: another resource's link id finds nothing. */
export async function findResourceDownloadLink(
  db: Queryable,
  resourceId: string,
  id: string,
): Promise<DownloadLink | undefined> {
  const result = await db.query<Row>(`select ${COLUMNS} from download_links where resource_id = $1 and id = $2`, [
    resourceId,
    id,
  ]);
  return result.rows[0] && toLink(result.rows[0]);
}

/** Revokes a live link; false when it was already revoked (or is not this resource's). */
export async function revokeDownloadLink(
  db: Queryable,
  resourceId: string,
  id: string,
  revokedBy: string,
): Promise<boolean> {
  const result = await db.query(
    'update download_links set revoked_at = now(), revoked_by = $3 where resource_id = $1 and id = $2 and revoked_at is null',
    [resourceId, id, revokedBy],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Revokes every live link one creator (`user:…` or `api_token:…`) made on a resource; returns how many. */
export async function revokeLinksCreatedBy(
  db: Queryable,
  resourceId: string,
  createdById: string,
  revokedBy: string,
): Promise<number> {
  const result = await db.query(
    'update download_links set revoked_at = now(), revoked_by = $3 where resource_id = $1 and created_by_id = $2 and revoked_at is null',
    [resourceId, createdById, revokedBy],
  );
  return result.rowCount ?? 0;
}

/** A link found by its token hash, with what redemption must check about it, all judged by the database clock. */
export interface LinkForRedemption {
  link: DownloadLink;
  expired: boolean;
  backupState: string;
  backupVerified: boolean;
  resourceState: string;
}

export async function findLinkByHash(db: Queryable, tokenHash: string): Promise<LinkForRedemption | undefined> {
  const result = await db.query<
    Row & { expired: boolean; backup_state: string; backup_verified: boolean; resource_state: string }
  >(
    `select ${L_COLUMNS}, l.expires_at <= now() as expired, b.state as backup_state, b.verified_at is not null as backup_verified,
       r.state as resource_state
     from download_links l join backups b on b.id = l.backup_id join resources r on r.id = l.resource_id
     where l.token_hash = $1`,
    [tokenHash],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    link: toLink(row),
    expired: row.expired,
    backupState: row.backup_state,
    backupVerified: row.backup_verified,
    resourceState: row.resource_state,
  };
}

/**
 * Counts one use, in the same statement that re-checks the link is still live (a revoke or expiry
 * between the lookup and now wins). False when it no longer is.
 */
export async function recordDownloadLinkUse(db: Queryable, id: string, ip: string | null): Promise<boolean> {
  const result = await db.query(
    `update download_links set use_count = use_count + 1, last_used_at = now(), last_used_ip = $2
     where id = $1 and revoked_at is null and expires_at > now()`,
    [id, ip],
  );
  return (result.rowCount ?? 0) > 0;
}

// How a purged link is remembered (migration 0013): a digest of its token's stored hash under its own
// label, computed here in SQL both when remembering and when looking up, so the two cannot drift.
const PURGED_DIGEST = (hash: string) => `encode(sha256(convert_to('purged-download-link:' || ${hash}, 'UTF8')), 'hex')`;

/** Remembers every link of the resource in its tombstone, before the purge deletes them. */
export async function rememberPurgedLinks(db: Queryable, resourceId: string): Promise<void> {
  await db.query(
    `insert into purged_download_links (digest, resource_id)
     select ${PURGED_DIGEST('token_hash')}, resource_id from download_links where resource_id = $1
     on conflict (digest) do nothing`,
    [resourceId],
  );
}

/** Whether a token with this hash named a link that a purge removed (its resource's tombstone remembers it). */
export async function isPurgedLink(db: Queryable, tokenHash: string): Promise<boolean> {
  const result = await db.query(`select 1 from purged_download_links where digest = ${PURGED_DIGEST('$1')}`, [
    tokenHash,
  ]);
  return (result.rowCount ?? 0) > 0;
}
