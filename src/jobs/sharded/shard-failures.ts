import type { PlannedPiece } from '../../engine/index.ts';
import { BackupFailure } from '../../shared/backup-failure.ts';

/** `3 (public.orders, blocks 0-4096, part 1 of 3)`: a piece as logs and failure messages name it. */
export function describePiece(
  piece: Pick<PlannedPiece, 'no' | 'kind' | 'schema' | 'table' | 'blocks' | 'part' | 'parts'>,
): string {
  if (piece.kind === 'large_objects') return `${piece.no} (large objects)`;
  const table = `${piece.schema ?? ''}.${piece.table ?? ''}`;
  if (!piece.blocks || piece.parts <= 1) return `${piece.no} (${table})`;
  const from = piece.blocks.fromBlock ?? 0;
  const to = piece.blocks.toBlock ?? 'end';
  return `${piece.no} (${table}, blocks ${from}-${to}, part ${piece.part + 1} of ${piece.parts})`;
}

/** A piece's last run failed: the backup fails with the piece named, as the piece's own failure kind. */
export function pieceGaveUp(piece: PlannedPiece, runs: number, cause: BackupFailure): BackupFailure {
  return new BackupFailure(
    cause.kind,
    `piece ${describePiece(piece)} failed ${runs === 1 ? 'once and cannot be retried' : `${runs} times`}: ${cause.message}`,
    { retryable: false, cause },
  );
}

/** The sweeper found a piece whose job pg-boss gave up on without the piece recording why (its worker kept dying). */
export function pieceLost(piece: PlannedPiece, runs: number): BackupFailure {
  return new BackupFailure(
    'interrupted',
    `piece ${describePiece(piece)} was never finished: its worker stopped ${runs} times and its retries ran out`,
    { retryable: false },
  );
}

/** A sharded backup ran past its own deadline (the plan's `shardedBackupHours`). */
export function deadlinePassed(run: { startedAt: Date | null; deadlineAt: Date | null }): BackupFailure {
  const hours =
    run.startedAt && run.deadlineAt
      ? Math.round((run.deadlineAt.getTime() - run.startedAt.getTime()) / 3600_000)
      : null;
  return new BackupFailure(
    'timed_out',
    `the backup did not finish within the plan's limit${hours === null ? '' : ` of ${hours} hours`} and was stopped`,
    { retryable: false },
  );
}
