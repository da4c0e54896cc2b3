import type { Queryable } from '../db/pool.ts';
import { sqlList } from '../db/sql-list.ts';
import { ATTEMPT_STATES, backupName, type BackupState, type BackupFormat, type BackupTrigger } from './backup.ts';
import type { CaptureMode, ShardPlan } from '../engine/index.ts';

const ATTEMPT = sqlList(ATTEMPT_STATES);

/** What the piece, assemble and sweeper jobs need of a sharded backup (migration 0014). */
export interface ShardedRun {
  id: string;
  resourceId: string;
  name: string;
  state: BackupState;
  format: BackupFormat;
  attempt: number;
  /** The attempt's token: every write of a piece or of the assembly names it (null once final). */
  token: string | null;
  captureMode: CaptureMode | null;
  plan: ShardPlan | null;
  deadlineAt: Date | null;
  cancelRequested: boolean;
  sourceMode: 'fork' | 'direct' | 'direct-fallback' | null;
  sourceDescription: string | null;
  startedAt: Date | null;
}

const RUN = `select b.id, b.resource_id as "resourceId", b.trigger, b.number, b.state, b.format, b.attempt,
  b.attempt_token as token, b.capture_mode as "captureMode", b.shard_plan as plan, b.deadline_at as "deadlineAt",
  b.cancel_requested_at is not null as "cancelRequested", b.source_mode as "sourceMode",
  b.source_description as "sourceDescription", b.started_at as "startedAt" from backups b`;

type RunRow = Omit<ShardedRun, 'name'> & { trigger: BackupTrigger; number: number };
const toRun = ({ trigger, number, ...row }: RunRow): ShardedRun => ({ ...row, name: backupName(trigger, number) });

/** One backup as the sharded jobs see it. */
export async function findShardedRun(db: Queryable, backupId: string): Promise<ShardedRun | undefined> {
  const row = (await db.query<RunRow>(`${RUN} where b.id = $1`, [backupId])).rows[0];
  return row && toRun(row);
}

/** Sharded backups an attempt still holds: the sweeper's round. */
export async function listShardedInFlight(db: Queryable): Promise<ShardedRun[]> {
  const result = await db.query<RunRow>(
    `${RUN} where b.capture_mode = 'sharded' and b.state in ${ATTEMPT} and b.attempt_token is not null order by b.deadline_at`,
  );
  return result.rows.map(toRun);
}

/** Whether one of the resource's backups is being captured in pieces (it has no backup job holding its queue slot). */
export async function hasShardedBackupInFlight(db: Queryable, resourceId: string): Promise<boolean> {
  const result = await db.query(
    `select 1 from backups where resource_id = $1 and capture_mode = 'sharded' and state in ${ATTEMPT}
       and attempt_token is not null limit 1`,
    [resourceId],
  );
  return (result.rowCount ?? 0) > 0;
}

/** Records that this attempt runs as one pg_dump stream, and why. Fenced by the attempt token. */
export async function recordSingleCapture(
  db: Queryable,
  backupId: string,
  token: string,
  reason: string,
): Promise<boolean> {
  const result = await db.query(
    `update backups set capture_mode = 'single', capture_mode_reason = $3, updated_at = now()
     where id = $1 and attempt_token = $2 and state in ${ATTEMPT}`,
    [backupId, token, reason],
  );
  return result.rowCount === 1;
}

/**
 * Records a sharded plan and its pieces, in the caller's transaction, before any piece runs. Fenced:
 * false (and nothing written) when a newer attempt owns the backup.
 */
export async function recordShardPlan(
  db: Queryable,
  backupId: string,
  token: string,
  plan: ShardPlan,
  deadlineAt: Date,
): Promise<boolean> {
  const updated = await db.query<{ attempt: number }>(
    `update backups set capture_mode = 'sharded', capture_mode_reason = $3, shard_plan = $4, deadline_at = $5,
       phase = 'dumping pieces', updated_at = now()
     where id = $1 and attempt_token = $2 and state = 'running' returning attempt`,
    [backupId, token, plan.modeReason, JSON.stringify(plan), deadlineAt],
  );
  const attempt = updated.rows[0]?.attempt;
  if (attempt === undefined) return false;
  const pieces = plan.pieces;
  await db.query(
    `insert into backup_pieces (backup_id, attempt, piece_no, dump_id, kind, schema_name, table_name, from_block, to_block,
       part, parts, run_order, estimated_bytes)
     select $1, $2, p.no, p.dump_id, p.kind, p.schema_name, p.table_name, p.from_block, p.to_block, p.part, p.parts,
       p.run_order, p.estimated_bytes
     from unnest($3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[], $10::int[],
       $11::int[], $12::int[], $13::bigint[])
       as p(no, dump_id, kind, schema_name, table_name, from_block, to_block, part, parts, run_order, estimated_bytes)`,
    [
      backupId,
      attempt,
      pieces.map((p) => p.no),
      pieces.map((p) => p.dumpId),
      pieces.map((p) => p.kind),
      pieces.map((p) => p.schema),
      pieces.map((p) => p.table),
      pieces.map((p) => p.blocks?.fromBlock ?? null),
      pieces.map((p) => p.blocks?.toBlock ?? null),
      pieces.map((p) => p.part),
      pieces.map((p) => p.parts),
      pieces.map((_, i) => i),
      pieces.map((p) => Math.round(p.estimatedBytes)),
    ],
  );
  return true;
}

/** Sets the phase of a sharded attempt (e.g. `assembling`). Fenced. */
export async function recordShardPhase(
  db: Queryable,
  backupId: string,
  token: string,
  phase: string,
): Promise<boolean> {
  const result = await db.query(
    `update backups set phase = $3, updated_at = now() where id = $1 and attempt_token = $2 and state in ${ATTEMPT}`,
    [backupId, token, phase],
  );
  return result.rowCount === 1;
}

/**
 * Locks the backup row for the caller's transaction (the dispatcher's serialisation point) and tells
 * whether this attempt still holds it with its pieces to run.
 */
export async function lockShardedRun(db: Queryable, backupId: string, token: string): Promise<boolean> {
  const result = await db.query(
    `select 1 from backups where id = $1 and attempt_token = $2 and state = 'running' and capture_mode = 'sharded'
       and cancel_requested_at is null for update`,
    [backupId, token],
  );
  return (result.rowCount ?? 0) > 0;
}

/**
 * Takes a sharded attempt back from `verifying` to `running`: its assembly died after the archive was
 * proven and before it was verified, and a new assembly proves and verifies it again. Fenced.
 */
export async function reopenAssembly(db: Queryable, backupId: string, token: string): Promise<boolean> {
  const result = await db.query(
    `update backups set state = 'running', phase = 'assembling', updated_at = now()
     where id = $1 and attempt_token = $2 and state = 'verifying' and capture_mode = 'sharded'`,
    [backupId, token],
  );
  return result.rowCount === 1;
}

/** What a running piece looks for every few seconds: a cancel, or its attempt no longer holding the backup. */
export async function pieceMayGoOn(
  db: Queryable,
  backupId: string,
  token: string,
): Promise<'yes' | 'canceled' | 'ended'> {
  const result = await db.query<{ canceled: boolean; ours: boolean }>(
    `select cancel_requested_at is not null as canceled, (attempt_token = $2 and state = 'running') as ours
     from backups where id = $1`,
    [backupId, token],
  );
  const row = result.rows[0];
  if (!row?.ours) return 'ended';
  return row.canceled ? 'canceled' : 'yes';
}
