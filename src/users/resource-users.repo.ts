import type { Queryable } from '../db/pool.ts';

export type Role = 'admin' | 'member';

/** A person who reached a resource by single sign-on. */
export interface ResourceUser {
  resourceId: string;
  herokuUserId: string;
  email: string;
  role: Role;
}

/**
 * Records a sign-in and returns the user's role: the first user of a resource becomes its admin, later
 * ones members, returning ones keep theirs. Callers hold the resource's row lock, so two first sign-ins
 * at the same moment cannot both become admin.
 */
export async function recordSignIn(
  db: Queryable,
  resourceId: string,
  herokuUserId: string,
  email: string,
): Promise<ResourceUser> {
  const result = await db.query<{ role: Role; email: string }>(
    `insert into resource_users (resource_id, heroku_user_id, email, role)
     values ($1, $2, $3, case when exists (select 1 from resource_users where resource_id = $1) then 'member' else 'admin' end)
     on conflict (resource_id, heroku_user_id) do update set email = excluded.email, last_seen_at = now()
     returning role, email`,
    [resourceId, herokuUserId, email],
  );
  const row = result.rows[0]!;
  return { resourceId, herokuUserId, email: row.email, role: row.role };
}

export async function findResourceUser(
  db: Queryable,
  resourceId: string,
  herokuUserId: string,
): Promise<ResourceUser | undefined> {
  const result = await db.query<{ email: string; role: Role }>(
    'select email, role from resource_users where resource_id = $1 and heroku_user_id = $2',
    [resourceId, herokuUserId],
  );
  const row = result.rows[0];
  return row && { resourceId, herokuUserId, email: row.email, role: row.role };
}

export async function deleteResourceUsers(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from resource_users where resource_id = $1', [resourceId]);
}

/** Ends every dashboard session bound to the resource (sessions are stored by connect-pg-simple). */
export async function deleteResourceSessions(db: Queryable, resourceId: string): Promise<number> {
  const result = await db.query(`delete from sessions where sess -> 'passport' -> 'user' ->> 'resourceId' = $1`, [
    resourceId,
  ]);
  return result.rowCount ?? 0;
}
