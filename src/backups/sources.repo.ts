import type { Queryable } from '../db/pool.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { directSource, parseDatabaseUrl, describeConnection, type BackupSource } from '../dump/index.ts';

const SEALED_URL = 'backup_sources.url';

/** Stores a database URL the customer gave as the resource's source; the URL is sealed, never stored plain. */
export async function setDirectSource(db: Queryable, secrets: SecretBox, resourceId: string, url: string, updatedBy: string): Promise<{ description: string }> {
  const description = describeConnection(parseDatabaseUrl(url));
  await db.query(
    `insert into backup_sources (resource_id, kind, url_ciphertext, description, updated_by) values ($1, 'direct', $2, $3, $4)
     on conflict (resource_id) do update set kind = 'direct', url_ciphertext = excluded.url_ciphertext,
       description = excluded.description, updated_by = excluded.updated_by, updated_at = now()`,
    [resourceId, secrets.seal(url, resourceId, SEALED_URL), description, updatedBy]);
  return { description };
}

/** The resource's source for this run, or undefined when none is set. */
export async function loadSource(db: Queryable, secrets: SecretBox, resourceId: string): Promise<{ source: BackupSource; description: string } | undefined> {
  const result = await db.query<{ url_ciphertext: string; description: string }>(
    'select url_ciphertext, description from backup_sources where resource_id = $1', [resourceId]);
  const row = result.rows[0];
  if (!row) return undefined;
  return { source: directSource(secrets.open(row.url_ciphertext, resourceId, SEALED_URL)), description: row.description };
}

export async function deleteSource(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from backup_sources where resource_id = $1', [resourceId]);
}
