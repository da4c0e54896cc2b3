import type { Queryable } from '../db/pool.ts';
import type { Backup } from './backup.ts';
import { listPieces, type PieceRecord, type PieceState } from './backup-pieces.repo.ts';

/** One piece as the backup page and the API show it. */
export interface PieceView {
  no: number;
  state: PieceState;
  /** `schema.table`, or null for the large-objects piece. */
  table: string | null;
  /** Heap blocks `[from, to)`; null for a whole table. */
  blocks: [number | null, number | null] | null;
  estimatedBytes: number;
  /** Stored bytes, once done. */
  bytes: number | null;
  /** Stored bytes per second of the run that finished it. */
  bytesPerSecond: number | null;
  rows: number | null;
  worker: string | null;
  attempts: number;
  error: string | null;
}

/** A sharded backup's pieces, counted, with overall progress and an estimate of the time left. */
export interface ShardedProgress {
  total: number;
  waiting: number;
  running: number;
  done: number;
  failed: number;
  /** Database bytes the plan covers, and those covered by done pieces (estimates, from `pg_relation_size`). */
  estimatedBytes: number;
  estimatedBytesDone: number;
  percent: number;
  /** Seconds left at the done pieces' rate with as many pieces at once as run now; null before any is done. */
  etaSeconds: number | null;
  items: PieceView[];
}

/** The pieces of a backup's current attempt; null for a backup not captured in pieces. */
export async function shardedProgress(db: Queryable, backup: Backup): Promise<ShardedProgress | null> {
  if (backup.captureMode !== 'sharded' || backup.attempt < 1) return null;
  return summarisePieces(await listPieces(db, backup.id, backup.attempt));
}

/** Counts, progress and ETA of a list of pieces (pure, for the page and the API alike). */
export function summarisePieces(pieces: PieceRecord[]): ShardedProgress {
  const count = (state: PieceState) => pieces.filter((p) => p.state === state).length;
  const done = pieces.filter((p) => p.state === 'done');
  const estimatedBytes = pieces.reduce((sum, p) => sum + p.estimatedBytes, 0);
  const estimatedBytesDone = done.reduce((sum, p) => sum + p.estimatedBytes, 0);
  const secondsDone = done.reduce((sum, p) => sum + (p.seconds ?? 0), 0);
  // One piece's rate over the database's bytes, times the pieces running side by side.
  const perPiece = secondsDone > 0 ? estimatedBytesDone / secondsDone : null;
  const left = estimatedBytes - estimatedBytesDone;
  const side = Math.max(1, count('running'));
  const etaSeconds = left <= 0 ? 0 : perPiece && perPiece > 0 ? Math.round(left / (perPiece * side)) : null;
  return {
    total: pieces.length,
    waiting: count('waiting'),
    running: count('running'),
    done: done.length,
    failed: count('failed'),
    estimatedBytes,
    estimatedBytesDone,
    percent:
      estimatedBytes > 0
        ? Math.floor((100 * estimatedBytesDone) / estimatedBytes)
        : done.length === pieces.length
          ? 100
          : 0,
    etaSeconds,
    items: pieces.map((p) => ({
      no: p.no,
      state: p.state,
      table: p.kind === 'large_objects' ? null : `${p.schema ?? ''}.${p.table ?? ''}`,
      blocks: p.fromBlock === null && p.toBlock === null ? null : [p.fromBlock, p.toBlock],
      estimatedBytes: p.estimatedBytes,
      bytes: p.bytes,
      bytesPerSecond: p.bytesPerSecond,
      rows: p.rows,
      worker: p.worker,
      attempts: p.attempts,
      error: p.state === 'done' ? null : p.lastError,
    })),
  };
}
