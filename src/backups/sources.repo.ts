import type { Queryable } from '../db/pool.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { directSource, parseDatabaseUrl, describeConnection, type BackupSource } from '../engine/index.ts';

/** The sealed column's name: part of each ciphertext's authenticated data. */
export const SEALED_URL = 'backup_sources.url';

/** Stores a database URL the customer gave as the resource's source; the URL is sealed, never stored plain. */
export async function setDirectSource(
  db: Queryable,
  secrets: SecretBox,
  resourceId: string,
  url: string,
  updatedBy: string,
): Promise<{ description: string }> {
  const description = describeConnection(parseDatabaseUrl(url));
  await db.query(
    `insert into backup_sources (resource_id, kind, url_ciphertext, description, updated_by) values ($1, 'direct', $2, $3, $4)
     on conflict (resource_id) do update set kind = 'direct', url_ciphertext = excluded.url_ciphertext,
       description = excluded.description, updated_by = excluded.updated_by, updated_at = now(),
       static_declared_at = null, static_declared_by = null`,
    [resourceId, secrets.seal(url, resourceId, SEALED_URL), description, updatedBy],
  );
  return { description };
}

/** The resource's direct source for this run, or undefined when none is set (a Heroku source resolves in src/forks). */
export async function loadSource(
  db: Queryable,
  secrets: SecretBox,
  resourceId: string,
): Promise<{ source: BackupSource; description: string } | undefined> {
  const result = await db.query<{ url_ciphertext: string; description: string }>(
    `select url_ciphertext, description from backup_sources where resource_id = $1 and kind = 'direct'`,
    [resourceId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    source: directSource(secrets.open(row.url_ciphertext, resourceId, SEALED_URL)),
    description: row.description,
  };
}

/** Backs up a Heroku attachment of an app: `<ATTACHMENT>_URL` is read from the app's config vars at every run. */
export async function setHerokuSource(
  db: Queryable,
  resourceId: string,
  choice: { appName: string; attachmentName: string },
  updatedBy: string,
): Promise<{ description: string }> {
  const description = `${choice.appName}::${choice.attachmentName}_URL`;
  await db.query(
    `insert into backup_sources (resource_id, kind, url_ciphertext, attachment_name, app_name, description, updated_by)
     values ($1, 'heroku', null, $2, $3, $4, $5)
     on conflict (resource_id) do update set kind = 'heroku', url_ciphertext = null, attachment_name = excluded.attachment_name,
       app_name = excluded.app_name, description = excluded.description, updated_by = excluded.updated_by, updated_at = now(),
       static_declared_at = null, static_declared_by = null`,
    [resourceId, choice.attachmentName, choice.appName, description, updatedBy],
  );
  return { description };
}

/**
 * Backs up the attachment named at provision of the add-on's own app, unless the resource already has a
 * source (one an admin chose, or this default set by the other of the two steps that race to set it).
 */
export async function adoptHerokuSource(
  db: Queryable,
  resourceId: string,
  choice: { appName: string; attachmentName: string },
  updatedBy: string,
): Promise<boolean> {
  const description = `${choice.appName}::${choice.attachmentName}_URL`;
  const result = await db.query(
    `insert into backup_sources (resource_id, kind, url_ciphertext, attachment_name, app_name, description, updated_by)
     values ($1, 'heroku', null, $2, $3, $4, $5)
     on conflict (resource_id) do nothing`,
    [resourceId, choice.attachmentName, choice.appName, description, updatedBy],
  );
  return result.rowCount === 1;
}

/** What the resource backs up, without opening anything: a sealed direct URL, or a Heroku attachment. */
export type SourceSetting =
  | { kind: 'direct'; description: string; urlCiphertext: string }
  | { kind: 'heroku'; description: string; appName: string; attachmentName: string };

export async function findSourceSetting(db: Queryable, resourceId: string): Promise<SourceSetting | undefined> {
  const result = await db.query<{
    kind: string;
    url_ciphertext: string | null;
    description: string;
    app_name: string | null;
    attachment_name: string | null;
  }>('select kind, url_ciphertext, description, app_name, attachment_name from backup_sources where resource_id = $1', [
    resourceId,
  ]);
  const row = result.rows[0];
  if (!row) return undefined;
  return row.kind === 'heroku'
    ? { kind: 'heroku', description: row.description, appName: row.app_name!, attachmentName: row.attachment_name! }
    : { kind: 'direct', description: row.description, urlCiphertext: row.url_ciphertext! };
}

/** Opens a direct source's sealed URL for one run. */
export function openDirectSource(
  secrets: SecretBox,
  resourceId: string,
  setting: { urlCiphertext: string },
): BackupSource {
  return directSource(secrets.open(setting.urlCiphertext, resourceId, SEALED_URL));
}

export async function deleteSource(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from backup_sources where resource_id = $1', [resourceId]);
}

/**
 * Declares the resource's direct source static (it cannot change while a backup runs: a follower that
 * was unfollowed, a restore target), or takes the declaration back. A static source is captured in
 * pieces, like a fork. Changing the source clears it (setDirectSource and setHerokuSource write the row anew).
 */
export async function setSourceStatic(
  db: Queryable,
  resourceId: string,
  declared: boolean,
  declaredBy: string,
): Promise<boolean> {
  const result = await db.query(
    `update backup_sources set static_declared_at = case when $2 then now() end, static_declared_by = case when $2 then $3 end
     where resource_id = $1 and kind = 'direct'`,
    [resourceId, declared, declaredBy],
  );
  return result.rowCount === 1;
}

/** Whether an admin declared the resource's direct source static. */
export async function isSourceDeclaredStatic(db: Queryable, resourceId: string): Promise<boolean> {
  const result = await db.query(
    `select 1 from backup_sources where resource_id = $1 and kind = 'direct' and static_declared_at is not null`,
    [resourceId],
  );
  return (result.rowCount ?? 0) > 0;
}
