import type { Queryable } from '../db/pool.ts';

/** A resource's "Connect Heroku" grant; token columns are sealed (see SecretBox). */
export interface ConnectionRow {
  resourceId: string;
  accessTokenCiphertext: string | null;
  accessTokenExpiresAt: Date | null;
  refreshTokenCiphertext: string | null;
  herokuUserId: string | null;
  herokuEmail: string | null;
  connectedBy: string;
  connectedAt: Date;
  refreshedAt: Date | null;
  status: 'connected' | 'reconnect_needed';
  lastError: string | null;
  scratchAppId: string | null;
  scratchAppName: string | null;
  forkPlan: string;
  allowDirectFallback: boolean;
}

const COLUMNS = `resource_id as "resourceId", access_token_ciphertext as "accessTokenCiphertext",
  access_token_expires_at as "accessTokenExpiresAt", refresh_token_ciphertext as "refreshTokenCiphertext",
  heroku_user_id as "herokuUserId", heroku_email as "herokuEmail", connected_by as "connectedBy", connected_at as "connectedAt",
  refreshed_at as "refreshedAt", status, last_error as "lastError", scratch_app_id as "scratchAppId",
  scratch_app_name as "scratchAppName", fork_plan as "forkPlan", allow_direct_fallback as "allowDirectFallback"`;

export async function findConnection(
  db: Queryable,
  resourceId: string,
  { lock = false } = {},
): Promise<ConnectionRow | undefined> {
  const result = await db.query<ConnectionRow>(
    `select ${COLUMNS} from heroku_connections where resource_id = $1${lock ? ' for update' : ''}`,
    [resourceId],
  );
  return result.rows[0];
}

/** Records a fresh grant (a first connect or a reconnect): new tokens, who and when; settings are kept. */
export async function saveConnection(
  db: Queryable,
  resourceId: string,
  grant: {
    accessCiphertext: string;
    refreshCiphertext: string;
    expiresAt: Date;
    herokuUserId: string;
    herokuEmail: string;
    connectedBy: string;
  },
): Promise<void> {
  await db.query(
    `insert into heroku_connections (resource_id, access_token_ciphertext, refresh_token_ciphertext, access_token_expires_at,
       heroku_user_id, heroku_email, connected_by)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (resource_id) do update set access_token_ciphertext = excluded.access_token_ciphertext,
       refresh_token_ciphertext = excluded.refresh_token_ciphertext, access_token_expires_at = excluded.access_token_expires_at,
       heroku_user_id = excluded.heroku_user_id, heroku_email = excluded.heroku_email, connected_by = excluded.connected_by,
       connected_at = now(), refreshed_at = null, status = 'connected', last_error = null, updated_at = now()`,
    [
      resourceId,
      grant.accessCiphertext,
      grant.refreshCiphertext,
      grant.expiresAt,
      grant.herokuUserId,
      grant.herokuEmail,
      grant.connectedBy,
    ],
  );
}

export async function storeRefreshedTokens(
  db: Queryable,
  resourceId: string,
  tokens: { accessCiphertext: string; refreshCiphertext: string; expiresAt: Date },
): Promise<void> {
  await db.query(
    `update heroku_connections set access_token_ciphertext = $2, refresh_token_ciphertext = $3, access_token_expires_at = $4,
       refreshed_at = now(), updated_at = now() where resource_id = $1`,
    [resourceId, tokens.accessCiphertext, tokens.refreshCiphertext, tokens.expiresAt],
  );
}

/** The grant stopped working: forget its tokens (they are useless) and show why until someone reconnects. */
export async function markReconnectNeeded(db: Queryable, resourceId: string, reason: string): Promise<void> {
  await db.query(
    `update heroku_connections set status = 'reconnect_needed', last_error = $2, access_token_ciphertext = null,
       refresh_token_ciphertext = null, access_token_expires_at = null, updated_at = now() where resource_id = $1`,
    [resourceId, reason],
  );
}

export async function updateConnectionSettings(
  db: Queryable,
  resourceId: string,
  settings: {
    scratchApp?: { id: string; name: string };
    forkPlan?: string;
    allowDirectFallback?: boolean;
  },
): Promise<void> {
  await db.query(
    `update heroku_connections set
       scratch_app_id = coalesce($2, scratch_app_id), scratch_app_name = coalesce($3, scratch_app_name),
       fork_plan = coalesce($4, fork_plan), allow_direct_fallback = coalesce($5, allow_direct_fallback), updated_at = now()
     where resource_id = $1`,
    [
      resourceId,
      settings.scratchApp?.id ?? null,
      settings.scratchApp?.name ?? null,
      settings.forkPlan ?? null,
      settings.allowDirectFallback ?? null,
    ],
  );
}

export async function deleteConnection(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from heroku_connections where resource_id = $1', [resourceId]);
}
