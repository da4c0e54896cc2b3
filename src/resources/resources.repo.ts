import type { Queryable } from '../db/pool.ts';

/** A resource row as the rest of the code sees it. */
export interface Resource {
  id: string;
  name: string;
  plan: string;
  region: string;
  callbackUrl: string | null;
  options: Record<string, string>;
  databaseAttachment: string;
  state: 'provisioned' | 'deprovisioned';
  appId: string | null;
  appName: string | null;
  largestDatabaseBytes: number | null;
  createdAt: Date;
  deprovisionedAt: Date | null;
  purgedAt: Date | null;
}

const COLUMNS = `id, name, plan, region, callback_url, options, database_attachment, state, app_id, app_name,
  largest_database_bytes, created_at, deprovisioned_at, purged_at`;

interface Row {
  id: string;
  name: string;
  plan: string;
  region: string;
  callback_url: string | null;
  options: Record<string, string>;
  database_attachment: string;
  state: Resource['state'];
  app_id: string | null;
  app_name: string | null;
  largest_database_bytes: string | null;
  created_at: Date;
  deprovisioned_at: Date | null;
  purged_at: Date | null;
}

function toResource(row: Row): Resource {
  return {
    id: row.id,
    name: row.name,
    plan: row.plan,
    region: row.region,
    callbackUrl: row.callback_url,
    options: row.options,
    databaseAttachment: row.database_attachment,
    state: row.state,
    appId: row.app_id,
    appName: row.app_name,
    largestDatabaseBytes: row.largest_database_bytes === null ? null : Number(row.largest_database_bytes),
    createdAt: row.created_at,
    deprovisionedAt: row.deprovisioned_at,
    purgedAt: row.purged_at,
  };
}

export interface NewResource {
  id: string;
  name: string;
  plan: string;
  region: string;
  callbackUrl: string | null;
  options: Record<string, string>;
  databaseAttachment: string;
}

/**
 * Inserts the resource unless its uuid exists. Returns the new row, or undefined when another request
 * (a Heroku retry, possibly concurrent) created it first; the unique key makes that race safe.
 */
export async function insertResourceIfAbsent(db: Queryable, r: NewResource): Promise<Resource | undefined> {
  const result = await db.query<Row>(
    `insert into resources (id, name, plan, region, callback_url, options, database_attachment)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (id) do nothing returning ${COLUMNS}`,
    [r.id, r.name, r.plan, r.region, r.callbackUrl, JSON.stringify(r.options), r.databaseAttachment],
  );
  return result.rows[0] && toResource(result.rows[0]);
}

export async function findResource(db: Queryable, id: string): Promise<Resource | undefined> {
  const result = await db.query<Row>(`select ${COLUMNS} from resources where id = $1`, [id]);
  return result.rows[0] && toResource(result.rows[0]);
}

/** Locks the row for the rest of the transaction, so plan changes and sign-ins on one resource serialise. */
export async function lockResource(db: Queryable, id: string): Promise<Resource | undefined> {
  const result = await db.query<Row>(`select ${COLUMNS} from resources where id = $1 for update`, [id]);
  return result.rows[0] && toResource(result.rows[0]);
}

export async function updateResourcePlan(db: Queryable, id: string, plan: string): Promise<void> {
  await db.query('update resources set plan = $2, updated_at = now() where id = $1', [id, plan]);
}

export async function updateResourceApp(db: Queryable, id: string, app: { id: string; name: string }): Promise<void> {
  await db.query('update resources set app_id = $2, app_name = $3, updated_at = now() where id = $1', [
    id,
    app.id,
    app.name,
  ]);
}

/** Marks the resource deprovisioned; returns false when it already was (a repeated DELETE). */
export async function markResourceDeprovisioned(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query(
    `update resources set state = 'deprovisioned', deprovisioned_at = now(), updated_at = now()
     where id = $1 and state = 'provisioned'`,
    [id],
  );
  return result.rowCount === 1;
}

/** Keeps a tombstone (so repeats stay idempotent) and drops what the customer gave us. */
export async function markResourcePurged(db: Queryable, id: string): Promise<void> {
  await db.query(`update resources set purged_at = now(), options = '{}'::jsonb, updated_at = now() where id = $1`, [
    id,
  ]);
}

/** Remembers the largest database a backup of this resource has covered (plan changes check it). */
export async function recordLargestDatabase(db: Queryable, id: string, bytes: number): Promise<void> {
  await db.query(
    'update resources set largest_database_bytes = greatest(coalesce(largest_database_bytes, 0), $2) where id = $1',
    [id, bytes],
  );
}
