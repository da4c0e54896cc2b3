import type { Queryable } from '../db/pool.ts';
import { sqlList } from '../db/sql-list.ts';
import { ATTEMPT_STATES, FINAL_STATES, type Backup } from '../backups/backup.ts';

const ATTEMPT = sqlList(ATTEMPT_STATES);
const FINAL = sqlList(FINAL_STATES);

/** A fork recorded on a backup. */
export interface ForkRecord {
  backupId: string;
  resourceId: string;
  addonId: string;
  addonName: string | null;
  appName: string;
  backupState: string;
  requestedAt: Date;
}

export type SourceMode = NonNullable<Backup['sourceMode']>;

/** Which way this attempt reads the database. Fenced by the attempt token. */
export async function recordSourceMode(
  db: Queryable,
  backupId: string,
  token: string,
  mode: SourceMode,
): Promise<boolean> {
  const result = await db.query(
    `update backups set source_mode = $3, updated_at = now() where id = $1 and attempt_token = $2 and state in ${ATTEMPT}`,
    [backupId, token, mode],
  );
  return result.rowCount === 1;
}

/**
 * Saves the fork Heroku just created on the backup row, at once, so teardown and the janitor can find
 * it. Fenced: false when a newer attempt owns the backup (the caller then destroys its own fork).
 */
export async function recordForkRequested(
  db: Queryable,
  backupId: string,
  token: string,
  fork: { addonId: string; addonName: string; appName: string; plan: string },
): Promise<boolean> {
  const result = await db.query(
    `update backups set fork_addon_id = $3, fork_addon_name = $4, fork_app_name = $5, fork_plan = $6, fork_state = 'provisioning',
       fork_requested_at = now(), fork_ready_at = null, fork_destroyed_at = null, updated_at = now(),
       fork_intent_app = null, fork_intent_attachment = null, fork_intent_at = null
     where id = $1 and attempt_token = $2 and state in ${ATTEMPT}`,
    [backupId, token, fork.addonId, fork.addonName, fork.appName, fork.plan],
  );
  return result.rowCount === 1;
}

export async function recordForkReady(db: Queryable, backupId: string, addonId: string): Promise<void> {
  await db.query(
    `update backups set fork_state = 'ready', fork_ready_at = now(), updated_at = now() where id = $1 and fork_addon_id = $2 and fork_destroyed_at is null`,
    [backupId, addonId],
  );
}

export async function recordForkState(db: Queryable, addonId: string, state: string): Promise<void> {
  await db.query('update backups set fork_state = $2 where fork_addon_id = $1 and fork_destroyed_at is null', [
    addonId,
    state,
  ]);
}

/** The fork is gone (destroyed by us, or already 404 at Heroku). Idempotent. */
export async function markForkDestroyed(db: Queryable, addonId: string): Promise<void> {
  await db.query(
    `update backups set fork_state = 'destroyed', fork_destroyed_at = now() where fork_addon_id = $1 and fork_destroyed_at is null`,
    [addonId],
  );
}

const LIVE = `select id as "backupId", resource_id as "resourceId", fork_addon_id as "addonId", fork_addon_name as "addonName",
  fork_app_name as "appName", state as "backupState", fork_requested_at as "requestedAt"
  from backups where fork_addon_id is not null and fork_destroyed_at is null`;

/** The fork recorded on one backup, if it still stands. */
export async function findLiveFork(db: Queryable, backupId: string): Promise<ForkRecord | undefined> {
  const result = await db.query<ForkRecord>(`${LIVE} and id = $1`, [backupId]);
  return result.rows[0];
}

/** Every fork of one resource not yet destroyed. */
export async function listResourceLiveForks(db: Queryable, resourceId: string): Promise<ForkRecord[]> {
  return (await db.query<ForkRecord>(`${LIVE} and resource_id = $1`, [resourceId])).rows;
}

// Issue 15: a restore drill compares the restored database with the fork, which must stand until it
// ends; a drill whose worker stopped beating for 5 minutes no longer holds it.
const DRILLING = `select 1 from restore_drills d where d.backup_id = backups.id and d.state = 'running'
  and d.heartbeat_at > $2`;

// Issue 14: a sharded backup in flight and within its own deadline (which may exceed the cutoff) still
// dumps its pieces from its fork.
const SHARDING = `coalesce(capture_mode = 'sharded', false) and state in ${ATTEMPT} and attempt_token is not null
  and coalesce(deadline_at > now(), false)`;

/**
 * Forks not yet destroyed whose backup has finished, or that were requested before `cutoff`; except the
 * fork of a sharded backup still in flight within its deadline, and one whose restore drill runs and has
 * beaten since `drillSilentSince`.
 */
export async function listForksToReap(
  db: Queryable,
  cutoff: Date,
  drillSilentSince: Date = new Date(Date.now() - 5 * 60_000),
): Promise<ForkRecord[]> {
  const result = await db.query<ForkRecord>(
    `${LIVE} and (state in ${FINAL} or (fork_requested_at < $1 and not (${SHARDING})))
       and not exists (${DRILLING}) order by fork_requested_at`,
    [cutoff, drillSilentSince],
  );
  return result.rows;
}

/**
 * True when the backup is gone (its resource was purged, forks first) or records this fork as destroyed.
 * A backup whose row now names a newer attempt's fork says nothing about this one: false.
 */
export async function forkAlreadyDestroyed(db: Queryable, backupId: string, addonId: string): Promise<boolean> {
  const result = await db.query<{ addon: string | null; destroyed: Date | null }>(
    'select fork_addon_id as addon, fork_destroyed_at as destroyed from backups where id = $1',
    [backupId],
  );
  const row = result.rows[0];
  return !row || (row.addon === addonId && row.destroyed !== null);
}

/** A fork an attempt asked Heroku for but never recorded (see migration 0011). */
export interface ForkIntent {
  backupId: string;
  resourceId: string;
  appName: string;
  attachmentName: string;
  at: Date;
}

const INTENT = `select id as "backupId", resource_id as "resourceId", fork_intent_app as "appName",
  fork_intent_attachment as "attachmentName", fork_intent_at as "at" from backups where fork_intent_at is not null`;

/** Written before the create request. Fenced: false when a newer attempt owns the backup. */
export async function recordForkIntent(
  db: Queryable,
  backupId: string,
  token: string,
  intent: { appName: string; attachmentName: string },
): Promise<boolean> {
  const result = await db.query(
    `update backups set fork_intent_app = $3, fork_intent_attachment = $4, fork_intent_at = now(), updated_at = now()
     where id = $1 and attempt_token = $2 and state in ${ATTEMPT}`,
    [backupId, token, intent.appName, intent.attachmentName],
  );
  return result.rowCount === 1;
}

export async function findForkIntent(db: Queryable, backupId: string): Promise<ForkIntent | undefined> {
  return (await db.query<ForkIntent>(`${INTENT} and id = $1`, [backupId])).rows[0];
}

/** Intents older than any attempt can live: nobody will record or destroy those forks. */
export async function listStaleForkIntents(db: Queryable, cutoff: Date): Promise<ForkIntent[]> {
  return (await db.query<ForkIntent>(`${INTENT} and fork_intent_at < $1 order by fork_intent_at`, [cutoff])).rows;
}

/** The intent is settled (its fork destroyed, or never made). Only that intent: a newer one stays. */
export async function clearForkIntent(db: Queryable, backupId: string, attachmentName: string): Promise<void> {
  await db.query(
    `update backups set fork_intent_app = null, fork_intent_attachment = null, fork_intent_at = null
     where id = $1 and fork_intent_attachment = $2`,
    [backupId, attachmentName],
  );
}

/** Every unsettled fork intent of one resource (the purge settles them before the rows go). */
export async function listResourceForkIntents(db: Queryable, resourceId: string): Promise<ForkIntent[]> {
  return (await db.query<ForkIntent>(`${INTENT} and resource_id = $1`, [resourceId])).rows;
}
