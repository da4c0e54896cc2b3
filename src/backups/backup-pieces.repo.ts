import type { Queryable } from '../db/pool.ts';
import type { PieceResult } from '../engine/index.ts';

/** A piece's state: waiting (queued or not yet), running, done (proven in storage), failed (its retries used up). */
export type PieceState = 'waiting' | 'running' | 'done' | 'failed';

/** One piece of one sharded attempt, as recorded (migration 0014). */
export interface PieceRecord {
  backupId: string;
  attempt: number;
  no: number;
  dumpId: number;
  kind: 'table' | 'large_objects';
  schema: string | null;
  table: string | null;
  fromBlock: number | null;
  toBlock: number | null;
  part: number;
  parts: number;
  runOrder: number;
  estimatedBytes: number;
  state: PieceState;
  dispatchedAt: Date | null;
  /** Runs started (a run that died, or failed retryably, counts too). */
  attempts: number;
  worker: string | null;
  startedAt: Date | null;
  finishedAt: Date | null;
  bytes: number | null;
  sha256: string | null;
  rawBytes: number | null;
  adler32: number | null;
  rows: number | null;
  seconds: number | null;
  bytesPerSecond: number | null;
  objectKey: string | null;
  lastError: string | null;
}

const COLUMNS = `backup_id as "backupId", attempt, piece_no as no, dump_id as "dumpId", kind, schema_name as schema,
  table_name as "table", from_block::float8 as "fromBlock", to_block::float8 as "toBlock", part, parts, run_order as "runOrder",
  estimated_bytes::float8 as "estimatedBytes", state, dispatched_at as "dispatchedAt", attempts, worker,
  started_at as "startedAt", finished_at as "finishedAt", bytes::float8 as bytes, sha256, raw_bytes::float8 as "rawBytes",
  adler32::float8 as adler32, rows::float8 as rows, seconds, bytes_per_second::float8 as "bytesPerSecond",
  object_key as "objectKey", last_error as "lastError"`;

/** Every piece of one attempt, in archive order. */
export async function listPieces(db: Queryable, backupId: string, attempt: number): Promise<PieceRecord[]> {
  const result = await db.query<PieceRecord>(
    `select ${COLUMNS} from backup_pieces where backup_id = $1 and attempt = $2 order by piece_no`,
    [backupId, attempt],
  );
  return result.rows;
}

export async function findPiece(
  db: Queryable,
  backupId: string,
  attempt: number,
  no: number,
): Promise<PieceRecord | undefined> {
  const result = await db.query<PieceRecord>(
    `select ${COLUMNS} from backup_pieces where backup_id = $1 and attempt = $2 and piece_no = $3`,
    [backupId, attempt, no],
  );
  return result.rows[0];
}

/** How many pieces of one attempt are in each state. */
export interface PieceCounts {
  total: number;
  waiting: number;
  running: number;
  done: number;
  failed: number;
}

export async function countPieces(db: Queryable, backupId: string, attempt: number): Promise<PieceCounts> {
  const result = await db.query<PieceCounts>(
    `select count(*)::int as total, count(*) filter (where state = 'waiting')::int as waiting,
       count(*) filter (where state = 'running')::int as running, count(*) filter (where state = 'done')::int as done,
       count(*) filter (where state = 'failed')::int as failed
     from backup_pieces where backup_id = $1 and attempt = $2`,
    [backupId, attempt],
  );
  return result.rows[0]!;
}

/**
 * Marks up to `limit` minus the pieces already in flight (running, or sent and waiting for a worker or
 * for pg-boss's retry) as dispatched, largest first, and returns them. Call it in the transaction that
 * holds the backup row's lock (lockShardedRun) and sends their jobs, so two dispatchers never exceed the
 * backup's limit and a rolled-back send leaves the piece undispatched.
 */
export async function claimPiecesToDispatch(
  db: Queryable,
  backupId: string,
  attempt: number,
  limit: number,
): Promise<number[]> {
  const result = await db.query<{ no: number }>(
    `with in_flight as (
       select count(*)::int as n from backup_pieces
       where backup_id = $1 and attempt = $2 and (state = 'running' or (state = 'waiting' and dispatched_at is not null))
     ), chosen as (
       select piece_no from backup_pieces
       where backup_id = $1 and attempt = $2 and state = 'waiting' and dispatched_at is null
       order by run_order limit greatest(0, $3 - (select n from in_flight))
     )
     update backup_pieces p set dispatched_at = now() from chosen
     where p.backup_id = $1 and p.attempt = $2 and p.piece_no = chosen.piece_no returning p.piece_no as no`,
    [backupId, attempt, limit],
  );
  return result.rows.map((r) => r.no).sort((a, b) => a - b);
}

/** Puts a dispatched piece whose job is gone back among those waiting to be sent (the sweeper). */
export async function undispatchPiece(db: Queryable, backupId: string, attempt: number, no: number): Promise<boolean> {
  const result = await db.query(
    `update backup_pieces set state = 'waiting', dispatched_at = null
     where backup_id = $1 and attempt = $2 and piece_no = $3 and state in ('waiting', 'running')`,
    [backupId, attempt, no],
  );
  return result.rowCount === 1;
}

/** Pieces sent to the queue and not finished: the sweeper checks that their jobs still live. */
export async function listPiecesInFlight(db: Queryable, backupId: string, attempt: number): Promise<PieceRecord[]> {
  const result = await db.query<PieceRecord>(
    `select ${COLUMNS} from backup_pieces where backup_id = $1 and attempt = $2
       and (state = 'running' or (state = 'waiting' and dispatched_at is not null)) order by piece_no`,
    [backupId, attempt],
  );
  return result.rows;
}

/**
 * Starts a run of one piece: only while the attempt that planned it still holds the backup (token) and
 * the piece is not done. A new run token fences the run's own writes: a run that died and was retried
 * can never record over its successor. Undefined when the piece must not run.
 */
export async function startPieceRun(
  db: Queryable,
  run: { backupId: string; attempt: number; token: string; no: number; worker: string },
): Promise<{ runToken: string; attempts: number } | undefined> {
  const result = await db.query<{ runToken: string; attempts: number }>(
    `update backup_pieces p set state = 'running', attempts = p.attempts + 1, run_token = gen_random_uuid(),
       worker = $5, started_at = now(), finished_at = null, dispatched_at = coalesce(p.dispatched_at, now())
     from backups b
     where p.backup_id = $1 and p.attempt = $2 and p.piece_no = $4 and p.state in ('waiting', 'running')
       and b.id = p.backup_id and b.attempt = p.attempt and b.attempt_token = $3 and b.state = 'running'
       and b.cancel_requested_at is null
     returning p.run_token as "runToken", p.attempts`,
    [run.backupId, run.attempt, run.token, run.no, run.worker],
  );
  return result.rows[0];
}

/**
 * A piece is done: only with storage's proof (the PieceResult of its stored object), only by the run
 * that holds it, and only while its attempt still holds the backup. False when any of that is not so.
 */
export async function recordPieceDone(
  db: Queryable,
  run: { backupId: string; attempt: number; token: string; no: number; runToken: string },
  result: PieceResult,
): Promise<boolean> {
  const rate = result.seconds > 0 ? Math.round(result.bytes / result.seconds) : null;
  const updated = await db.query(
    `update backup_pieces p set state = 'done', finished_at = now(), bytes = $6, sha256 = $7, raw_bytes = $8, adler32 = $9,
       rows = $10, seconds = $11, bytes_per_second = $12, object_key = $13, last_error = null
     from backups b
     where p.backup_id = $1 and p.attempt = $2 and p.piece_no = $4 and p.run_token = $5 and p.state = 'running'
       and b.id = p.backup_id and b.attempt = p.attempt and b.attempt_token = $3 and b.state = 'running'`,
    [
      run.backupId,
      run.attempt,
      run.token,
      run.no,
      run.runToken,
      result.bytes,
      result.sha256,
      result.rawBytes,
      result.adler32,
      result.rows,
      result.seconds,
      rate,
      result.key,
    ],
  );
  return updated.rowCount === 1;
}

/**
 * A run of a piece failed: back to waiting for pg-boss's retry, or, `final`, failed. Only by the run
 * that holds it.
 */
export async function recordPieceRunFailed(
  db: Queryable,
  run: { backupId: string; attempt: number; no: number; runToken: string },
  error: string,
  final: boolean,
): Promise<boolean> {
  const updated = await db.query(
    `update backup_pieces set state = $6, finished_at = now(), last_error = $5
     where backup_id = $1 and attempt = $2 and piece_no = $3 and run_token = $4 and state = 'running'`,
    [run.backupId, run.attempt, run.no, run.runToken, error.slice(0, 1000), final ? 'failed' : 'waiting'],
  );
  return updated.rowCount === 1;
}

/** A piece found dead by the sweeper (its job ran out of retries without recording why). */
export async function markPieceFailed(
  db: Queryable,
  backupId: string,
  attempt: number,
  no: number,
  error: string,
): Promise<boolean> {
  const updated = await db.query(
    `update backup_pieces set state = 'failed', finished_at = now(), last_error = $4
     where backup_id = $1 and attempt = $2 and piece_no = $3 and state in ('waiting', 'running')`,
    [backupId, attempt, no, error.slice(0, 1000)],
  );
  return updated.rowCount === 1;
}

/** The proofs of every done piece of one attempt, in archive order: what the assembler joins. */
export async function listPieceResults(db: Queryable, backupId: string, attempt: number): Promise<PieceResult[]> {
  const result = await db.query<PieceResult>(
    `select piece_no as no, object_key as key, bytes::float8 as bytes, sha256, raw_bytes::float8 as "rawBytes",
       adler32::float8 as adler32, coalesce(rows, 0)::float8 as rows, coalesce(seconds, 0) as seconds
     from backup_pieces where backup_id = $1 and attempt = $2 and state = 'done' order by piece_no`,
    [backupId, attempt],
  );
  return result.rows;
}
