import type { Queryable } from '../db/pool.ts';
import { sqlList } from '../db/sql-list.ts';
import {
  ACTIVE_BACKUP_STATES,
  ATTEMPT_STATES,
  backupName,
  type Backup,
  type BackupFormat,
  type BackupProgress,
  type BackupState,
  type BackupTrigger,
} from './backup.ts';
import type { VerifiedArchive } from '../engine/index.ts';
import { nextBackupNumber } from './backup-counters.repo.ts';
import { recordEvent } from './backup-events.repo.ts';

// The state sets as SQL lists, built once: `state in ${ACTIVE}`.
const ACTIVE = sqlList(ACTIVE_BACKUP_STATES);
const ATTEMPT = sqlList(ATTEMPT_STATES);

const COLUMNS = `id, resource_id, trigger, number, state, phase, format, requested_by, slot_key, attempt, object_key, bytes,
  sha256, source_bytes, source_description, server_version, pg_dump_version, dump_command, restore_command, table_count,
  toc_entries, progress, failure_kind, failure_reason, cancel_requested_at, created_at, started_at, verified_at, finished_at,
  source_mode, fork_addon_name, fork_plan, fork_state, fork_requested_at, fork_ready_at, fork_destroyed_at, fork_intent_at,
  reverification_requested_at, reverification_reason, rechecked_at, corrupt_at, corruption_reason,
  capture_mode, capture_mode_reason, deadline_at`;

type Row = Record<string, unknown>;
const num = (value: unknown) => (value === null || value === undefined ? null : Number(value));

function toBackup(r: Row): Backup {
  return {
    id: r.id as string,
    resourceId: r.resource_id as string,
    trigger: r.trigger as BackupTrigger,
    number: r.number as number,
    name: backupName(r.trigger as BackupTrigger, r.number as number),
    state: r.state as BackupState,
    phase: r.phase as string | null,
    format: r.format as BackupFormat,
    requestedBy: r.requested_by as string,
    slotKey: r.slot_key as string | null,
    attempt: r.attempt as number,
    objectKey: r.object_key as string | null,
    bytes: num(r.bytes),
    sha256: r.sha256 as string | null,
    sourceBytes: num(r.source_bytes),
    sourceDescription: r.source_description as string | null,
    serverVersion: r.server_version as string | null,
    pgDumpVersion: r.pg_dump_version as string | null,
    dumpCommand: r.dump_command as string | null,
    restoreCommand: r.restore_command as string | null,
    tableCount: r.table_count as number | null,
    tocEntries: r.toc_entries as number | null,
    progress: r.progress as BackupProgress,
    failureKind: r.failure_kind as string | null,
    failureReason: r.failure_reason as string | null,
    cancelRequestedAt: r.cancel_requested_at as Date | null,
    createdAt: r.created_at as Date,
    startedAt: r.started_at as Date | null,
    verifiedAt: r.verified_at as Date | null,
    finishedAt: r.finished_at as Date | null,
    sourceMode: r.source_mode as Backup['sourceMode'],
    fork: r.fork_requested_at
      ? {
          addonName: r.fork_addon_name as string | null,
          plan: r.fork_plan as string | null,
          state: r.fork_state as string | null,
          requestedAt: r.fork_requested_at as Date,
          readyAt: r.fork_ready_at as Date | null,
          destroyedAt: r.fork_destroyed_at as Date | null,
        }
      : null,
    forkIntentAt: r.fork_intent_at as Date | null,
    reverificationRequestedAt: r.reverification_requested_at as Date | null,
    reverificationReason: r.reverification_reason as string | null,
    recheckedAt: r.rechecked_at as Date | null,
    corruptAt: r.corrupt_at as Date | null,
    corruptionReason: r.corruption_reason as string | null,
    captureMode: r.capture_mode as Backup['captureMode'],
    captureModeReason: r.capture_mode_reason as string | null,
    deadlineAt: r.deadline_at as Date | null,
  };
}

export interface NewBackup {
  id: string;
  resourceId: string;
  trigger: BackupTrigger;
  format: BackupFormat;
  requestedBy: string;
  slotKey?: string | null;
}

/**
 * Creates a pending backup with the next number for its resource and trigger. Returns undefined when
 * a backup for the same schedule slot exists (a slot fired twice).
 */
export async function insertBackup(db: Queryable, b: NewBackup): Promise<Backup | undefined> {
  if (b.slotKey) {
    const taken = await db.query('select 1 from backups where slot_key = $1', [b.slotKey]);
    if (taken.rowCount) return undefined;
  }
  const number = await nextBackupNumber(db, b.resourceId, b.trigger);
  const result = await db.query<Row>(
    `insert into backups (id, resource_id, trigger, number, format, requested_by, slot_key)
     values ($1, $2, $3, $4, $5, $6, $7) on conflict (slot_key) do nothing returning ${COLUMNS}`,
    [b.id, b.resourceId, b.trigger, number, b.format, b.requestedBy, b.slotKey ?? null],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  await recordEvent(db, b.id, 0, 'pending', `requested by ${b.requestedBy}`);
  return toBackup(row);
}

export async function findBackup(db: Queryable, id: string): Promise<Backup | undefined> {
  const result = await db.query<Row>(`select ${COLUMNS} from backups where id = $1`, [id]);
  return result.rows[0] && toBackup(result.rows[0]);
}

/** The archive each of these backups claims, and its state, in one query (the janitor checks every stored object). */
export async function findArchiveClaims(
  db: Queryable,
  ids: readonly string[],
): Promise<Map<string, { objectKey: string | null; state: BackupState; attempt: number; sharded: boolean }>> {
  const result = await db.query<{
    id: string;
    object_key: string | null;
    state: BackupState;
    attempt: number;
    sharded: boolean;
  }>(
    `select id, object_key, state, attempt, coalesce(capture_mode = 'sharded', false) as sharded
     from backups where id = any($1::uuid[])`,
    [ids],
  );
  return new Map(
    result.rows.map((r) => [r.id, { objectKey: r.object_key, state: r.state, attempt: r.attempt, sharded: r.sharded }]),
  );
}

/**
 * Marks a completed backup as needing its archive verified again (migration 0012), with why, and records
 * it in the backup's history. Returns whether this call marked it (false when it already was, or is not
 * completed).
 */
export async function markNeedsReverification(db: Queryable, id: string, reason: string): Promise<boolean> {
  const result = await db.query<{ attempt: number }>(
    `update backups set reverification_requested_at = now(), reverification_reason = $2, updated_at = now()
     where id = $1 and state = 'completed' and reverification_requested_at is null returning attempt`,
    [id, reason],
  );
  const row = result.rows[0];
  if (!row) return false;
  await recordEvent(db, id, row.attempt, 'needs_reverification', reason);
  return true;
}

/** Tenant-scoped lookup: another resource's backup id finds nothing. */
export async function findResourceBackup(db: Queryable, resourceId: string, id: string): Promise<Backup | undefined> {
  const result = await db.query<Row>(`select ${COLUMNS} from backups where id = $1 and resource_id = $2`, [
    id,
    resourceId,
  ]);
  return result.rows[0] && toBackup(result.rows[0]);
}

/** One page of a resource's backups, newest first, how many there are in all, and whether any is queued or running (on any page). */
export async function pageResourceBackups(
  db: Queryable,
  resourceId: string,
  page: { limit: number; offset: number },
): Promise<{ backups: Backup[]; total: number; busy: boolean }> {
  const [rows, count] = await Promise.all([
    db.query<Row>(
      `select ${COLUMNS} from backups where resource_id = $1 order by created_at desc, number desc limit $2 offset $3`,
      [resourceId, page.limit, page.offset],
    ),
    db.query<{ n: number; busy: boolean }>(
      `select count(*)::int as n, coalesce(bool_or(state in ${ACTIVE}), false) as busy from backups where resource_id = $1`,
      [resourceId],
    ),
  ]);
  return { backups: rows.rows.map(toBackup), total: count.rows[0]!.n, busy: count.rows[0]!.busy };
}

export async function listResourceBackups(db: Queryable, resourceId: string, limit = 50): Promise<Backup[]> {
  const result = await db.query<Row>(
    `select ${COLUMNS} from backups where resource_id = $1 order by created_at desc, number desc limit $2`,
    [resourceId, limit],
  );
  return result.rows.map(toBackup);
}

/**
 * Starts a new attempt: a fresh token replaces any older attempt's, which from now on fails every
 * fenced write. Returns undefined when the backup is already final (a duplicate delivery) or was
 * canceled before it started.
 */
export async function beginAttempt(db: Queryable, id: string): Promise<{ backup: Backup; token: string } | undefined> {
  const result = await db.query<Row & { attempt_token: string }>(
    `update backups set attempt = attempt + 1, attempt_token = gen_random_uuid(), state = 'running', phase = 'starting',
       started_at = coalesce(started_at, now()), progress = '{}'::jsonb, updated_at = now(),
       failure_kind = null, failure_reason = null,
       capture_mode = null, capture_mode_reason = null, shard_plan = null, deadline_at = null
     where id = $1 and state in ${ACTIVE} and cancel_requested_at is null
     returning ${COLUMNS}, attempt_token`,
    [id],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  const backup = toBackup(row);
  await recordEvent(db, id, backup.attempt, 'running');
  return { backup, token: row.attempt_token };
}

/** Fields an attempt may record as it learns them. */
export interface AttemptFacts {
  phase?: string;
  objectKey?: string;
  sourceBytes?: number | null;
  sourceDescription?: string;
  serverVersion?: string;
  pgDumpVersion?: string;
  dumpCommand?: string;
  restoreCommand?: string;
  progress?: BackupProgress;
}

const FACT_COLUMNS: Record<keyof AttemptFacts, string> = {
  phase: 'phase',
  objectKey: 'object_key',
  sourceBytes: 'source_bytes',
  sourceDescription: 'source_description',
  serverVersion: 'server_version',
  pgDumpVersion: 'pg_dump_version',
  dumpCommand: 'dump_command',
  restoreCommand: 'restore_command',
  progress: 'progress',
};

/** A fenced write: true when this attempt still owns the backup, false when a newer attempt replaced it. */
export async function recordAttemptFacts(
  db: Queryable,
  id: string,
  token: string,
  facts: AttemptFacts,
): Promise<boolean> {
  const entries = Object.entries(facts).filter(([, value]) => value !== undefined) as Array<
    [keyof AttemptFacts, unknown]
  >;
  const sets = entries.map(([key], i) => `${FACT_COLUMNS[key]} = $${i + 3}`);
  const values = entries.map(([key, value]) => (key === 'progress' ? JSON.stringify(value) : value));
  const result = await db.query(
    `update backups set ${[...sets, 'updated_at = now()'].join(', ')} where id = $1 and attempt_token = $2 and state in ${ATTEMPT}`,
    [id, token, ...values],
  );
  return result.rowCount === 1;
}

/** The upload is proven (size and digest); reading it back comes next. Fenced. */
export async function markVerifying(
  db: Queryable,
  id: string,
  token: string,
  stored: { objectKey: string; bytes: number; sha256: string },
): Promise<boolean> {
  const result = await db.query<{ attempt: number }>(
    `update backups set state = 'verifying', phase = 'verifying', object_key = $3, bytes = $4, sha256 = $5, updated_at = now()
     where id = $1 and attempt_token = $2 and state = 'running' returning attempt`,
    [id, token, stored.objectKey, stored.bytes, stored.sha256],
  );
  if (result.rowCount !== 1) return false;
  await recordEvent(db, id, result.rows[0]!.attempt, 'verifying');
  return true;
}

/** Completes only on proof: the row must hold a digest and size, and this attempt must still own it. */
export async function markCompleted(
  db: Queryable,
  id: string,
  token: string,
  verified: Pick<VerifiedArchive, 'tableCount' | 'tocEntries' | 'contents'>,
): Promise<boolean> {
  const result = await db.query<{ attempt: number }>(
    `update backups set state = 'completed', phase = null, table_count = $3, toc_entries = $4, contents = $5, verified_at = now(), finished_at = now(),
       failure_kind = null, failure_reason = null, updated_at = now()
     where id = $1 and attempt_token = $2 and state = 'verifying' and sha256 is not null and bytes is not null and object_key is not null
     returning attempt`,
    [id, token, verified.tableCount, verified.tocEntries, JSON.stringify(verified.contents)],
  );
  if (result.rowCount !== 1) return false;
  await recordEvent(db, id, result.rows[0]!.attempt, 'completed');
  return true;
}

/**
 * Records an attempt's failure. `final` ends the backup as failed; otherwise it goes back to pending
 * with the reason shown until pg-boss retries it. Fenced when a token is given; a token of null is the
 * reconciler acting for an attempt that died.
 */
export async function markFailed(
  db: Queryable,
  id: string,
  token: string | null,
  failure: { kind: string; reason: string; final: boolean },
): Promise<boolean> {
  const next = failure.final ? 'failed' : 'pending';
  const result = await db.query<{ attempt: number }>(
    `update backups set state = $3, phase = null, failure_kind = $4, failure_reason = $5, updated_at = now(),
       finished_at = case when $3 = 'failed' then now() else null end,
       attempt_token = case when $3 = 'failed' then null else attempt_token end
     where id = $1 and ($2::uuid is null or attempt_token = $2) and state in ${ACTIVE} returning attempt`,
    [id, token, next, failure.kind, failure.reason],
  );
  if (result.rowCount !== 1) return false;
  await recordEvent(
    db,
    id,
    result.rows[0]!.attempt,
    failure.final ? 'failed' : 'pending',
    `${failure.kind}: ${failure.reason}`,
  );
  return true;
}

/** Asks a backup to stop; the running attempt notices and stops. Returns false when it already finished. */
export async function requestCancel(db: Queryable, resourceId: string, id: string): Promise<boolean> {
  const result = await db.query(
    `update backups set cancel_requested_at = coalesce(cancel_requested_at, now()), updated_at = now()
     where id = $1 and resource_id = $2 and state in ${ACTIVE}`,
    [id, resourceId],
  );
  return result.rowCount === 1;
}

/** Asks every unfinished backup of a resource to stop (deprovision): running attempts stop, queued ones never start. */
export async function requestResourceCancel(db: Queryable, resourceId: string): Promise<void> {
  await db.query(
    `update backups set cancel_requested_at = coalesce(cancel_requested_at, now()) where resource_id = $1 and state in ${ACTIVE}`,
    [resourceId],
  );
}

/** Ends a backup as canceled (by the attempt that noticed, or at once when it never started). */
export async function markCanceled(db: Queryable, id: string, reason: string): Promise<boolean> {
  const result = await db.query<{ attempt: number }>(
    `update backups set state = 'canceled', phase = null, failure_kind = 'canceled', failure_reason = $2, finished_at = now(),
       attempt_token = null, updated_at = now()
     where id = $1 and state in ${ACTIVE} returning attempt`,
    [id, reason],
  );
  if (result.rowCount !== 1) return false;
  await recordEvent(db, id, result.rows[0]!.attempt, 'canceled', reason);
  return true;
}

/**
 * Ends a backup that no attempt is running (not started yet, or waiting for its retry) as canceled.
 * Atomic with beginAttempt: false when an attempt has just started (it then sees the cancel flag).
 */
export async function cancelPending(db: Queryable, id: string, reason: string): Promise<boolean> {
  const result = await db.query<{ attempt: number }>(
    `update backups set state = 'canceled', phase = null, failure_kind = 'canceled', failure_reason = $2, finished_at = now(),
       attempt_token = null, updated_at = now()
     where id = $1 and state = 'pending' returning attempt`,
    [id, reason],
  );
  if (result.rowCount !== 1) return false;
  await recordEvent(db, id, result.rows[0]!.attempt, 'canceled', reason);
  return true;
}

/** The objects a verified backup's archive holds (read from its table of contents at verification). */
export async function findBackupContents(
  db: Queryable,
  resourceId: string,
  id: string,
): Promise<VerifiedArchive['contents'] | undefined> {
  const result = await db.query<{ contents: VerifiedArchive['contents'] | null }>(
    'select contents from backups where id = $1 and resource_id = $2',
    [id, resourceId],
  );
  return result.rows[0]?.contents ?? undefined;
}

/** When the resource's newest verified backup was verified, if any. */
export async function newestVerifiedAt(db: Queryable, resourceId: string): Promise<Date | null> {
  const result = await db.query<{ at: Date | null }>(
    `select max(verified_at) as at from backups
     where resource_id = $1 and state = 'completed' and reverification_requested_at is null`,
    [resourceId],
  );
  return result.rows[0]?.at ?? null;
}

/** Whether someone asked this backup to stop. */
export async function cancelRequested(db: Queryable, id: string): Promise<boolean> {
  const result = await db.query('select 1 from backups where id = $1 and cancel_requested_at is not null', [id]);
  return (result.rowCount ?? 0) > 0;
}

/**
 * Unfinished backups nothing has written to since `before` (the janitor checks whether their job still
 * lives). A sharded backup whose pieces are in flight has no backup job by design: the shard sweeper
 * watches those (jobs/sharded/shard-sweeper.ts).
 */
export async function listUnfinishedSince(db: Queryable, before: Date): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `select id from backups where state in ${ACTIVE} and updated_at < $1
       and not (coalesce(capture_mode = 'sharded', false) and state in ${ATTEMPT} and attempt_token is not null)`,
    [before],
  );
  return result.rows.map((r) => r.id);
}

/** Whether an attempt still holds one of the resource's backups. */
export async function hasRunningAttempt(db: Queryable, resourceId: string): Promise<boolean> {
  const result = await db.query(`select 1 from backups where resource_id = $1 and state in ${ATTEMPT} limit 1`, [
    resourceId,
  ]);
  return (result.rowCount ?? 0) > 0;
}

/** Deletes one backup's row (its events and logs go with it); the caller removes its archive first. */
export async function deleteBackup(db: Queryable, resourceId: string, id: string): Promise<void> {
  await db.query('delete from backups where id = $1 and resource_id = $2', [id, resourceId]);
}

/** Deletes every backup row of a resource (purge). */
/** Every backup id of a resource, whatever its state (for forgetting the jobs that name them). */
export async function listResourceBackupIds(db: Queryable, resourceId: string): Promise<string[]> {
  const { rows } = await db.query<{ id: string }>('select id from backups where resource_id = $1', [resourceId]);
  return rows.map((row) => row.id);
}

export async function deleteResourceBackups(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from backups where resource_id = $1', [resourceId]);
}
