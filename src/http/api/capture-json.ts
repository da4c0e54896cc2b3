import type { Backup } from '../../backups/backup.ts';
import type { ShardedProgress } from '../../backups/sharded-progress.ts';

/**
 * How a backup was captured (issue 14), for `/api/v1/backups/{id}`: the mode and why, and for a sharded
 * backup its pieces, counted, with one compact item per piece.
 */
export function captureJson(backup: Backup, pieces: ShardedProgress | null) {
  return {
    mode: backup.captureMode ?? null,
    modeReason: backup.captureModeReason ?? null,
    pieces: pieces
      ? {
          total: pieces.total,
          done: pieces.done,
          running: pieces.running,
          waiting: pieces.waiting,
          failed: pieces.failed,
          percent: pieces.percent,
          etaSeconds: pieces.etaSeconds,
          items: pieces.items.map((p) => ({
            no: p.no,
            state: p.state,
            table: p.table,
            blocks: p.blocks,
            bytes: p.bytes,
            rate: p.bytesPerSecond,
            worker: p.worker,
            attempts: p.attempts,
            ...(p.error ? { error: p.error } : {}),
          })),
        }
      : null,
  };
}
