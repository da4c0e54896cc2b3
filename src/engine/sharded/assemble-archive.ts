import os from 'node:os';
import type { UploadResult, ObjectStore } from '../../storage/object-store.ts';
import { isBackupFailure } from '../../shared/backup-failure.ts';
import { pieceFailed, readBackFailed, verificationFailed } from '../verification-failures.ts';
import { verifyArchive, type ReadThroughShare, type VerifiedArchive } from '../verify-archive.ts';
import { ArchiveHeadError, dataEntries, parseArchiveHead, type ArchiveHead } from './archive-head.ts';
import { AssemblyError, layoutArchive, type ArchiveLayout } from './assembly.ts';
import { SegmentCheck } from './segment-check.ts';
import type { PieceResult, PlannedPiece, ShardPlan } from './types.ts';

export interface AssembleOptions {
  store: ObjectStore;
  plan: ShardPlan;
  /** The finished pieces; every planned piece needs one (results for other pieces are ignored). */
  pieces: readonly PieceResult[];
  /** The archive's key. */
  key: string;
  /** pg_restore to verify with (`pg_restore --list` and a full read-through). */
  pgRestore: string;
  signal?: AbortSignal;
  /** Kept in the archive's manifest (and as S3 object metadata). */
  metadata?: Record<string, string>;
  /**
   * pg_restore processes the full read-through is split between (each reads its share of the data
   * entries); default one per core, at most 4.
   */
  readThroughProcesses?: number;
}

/**
 * Joins a sharded capture's pieces into one stock custom-format archive at `key` and proves it:
 *
 * 1. every planned piece has a result, and storage holds each piece with exactly its recorded size,
 *    sealed with its recorded SHA-256;
 * 2. the archive is composed from the head with real offsets and the pieces' objects (assembly.ts;
 *    server-side copies on S3), unsealed;
 * 3. one read of the composed object computes its SHA-256, checks every inline segment's bytes and
 *    every piece's bytes against the piece's digest, and feeds `pg_restore --list` and a full
 *    `pg_restore` read-through (verify-archive.ts);
 * 4. only then is it sealed with that digest.
 *
 * Any failure removes the composed object and throws a BackupFailure (a piece that is missing or not
 * what it recorded names it in `detail.pieceNo`). The pieces are left for the caller to delete.
 */
export async function assembleShardedArchive(
  options: AssembleOptions,
): Promise<{ stored: UploadResult; verified: VerifiedArchive }> {
  const { store, plan, key, signal } = options;
  if (plan.mode !== 'sharded') throw verificationFailed(`a ${plan.mode} capture has no pieces to assemble`);
  const results = new Map(options.pieces.map((p) => [p.no, p]));
  for (const piece of plan.pieces)
    if (!results.has(piece.no)) throw pieceFailed(piece.no, `${describePiece(piece)} has not finished`);
  const used = plan.pieces.map((p) => results.get(p.no)!);
  let layout;
  let shares;
  try {
    const head = parseArchiveHead(Buffer.from(plan.headBase64, 'base64'));
    layout = layoutArchive({ head, pieces: plan.pieces, results: used, level: plan.compressionLevel });
    shares = readThroughShares(
      head,
      layout,
      plan.pieces,
      used,
      options.readThroughProcesses ?? Math.min(4, os.availableParallelism()),
    );
  } catch (error) {
    if (error instanceof AssemblyError || error instanceof ArchiveHeadError)
      throw verificationFailed(`the pieces cannot be assembled: ${error.message}`, error);
    throw error;
  }
  for (const piece of used) await proveStored(store, piece);

  await store.compose(key, layout.segments, {
    ...(signal ? { signal } : {}),
    ...(options.metadata ? { metadata: options.metadata } : {}),
  });
  const check = new SegmentCheck(layout.segments, used);
  try {
    const verified = await verifyArchive(
      store,
      key,
      { bytes: layout.bytes, sha256: null },
      {
        pgRestore: options.pgRestore,
        wrapper: 'none',
        observe: check.push,
        readThroughShares: shares,
        ...(signal ? { signal } : {}),
      },
    );
    check.finish();
    const stored = await store.seal(key, {
      bytes: verified.bytes,
      sha256: verified.sha256,
      ...(options.metadata ? { metadata: options.metadata } : {}),
    });
    return { stored, verified };
  } catch (error) {
    await store.delete(key).catch(() => {});
    // A piece that is not what it recorded is the cause of whatever pg_restore said about it.
    if (check.problem) throw check.problem;
    if (isBackupFailure(error)) throw error;
    throw verificationFailed(`assembling the archive failed: ${(error as Error).message}`, error);
  }
}

/**
 * The archive's data entries dealt into `processes` shares of about equal work (a block's stored
 * bytes read plus its rows inflated; largest first, each to the lightest share), each share with its
 * ranges of the archive: the head, then its blocks in the archive's order, neighbours joined.
 */
export function readThroughShares(
  head: ArchiveHead,
  layout: ArchiveLayout,
  pieces: readonly PlannedPiece[],
  results: readonly PieceResult[],
  processes: number,
): ReadThroughShare[] {
  const entries = dataEntries(head);
  const count = Math.max(1, Math.min(Math.floor(processes), entries.length));
  if (count < 2) return [];
  const byNo = new Map(results.map((r) => [r.no, r]));
  const work = new Map<number, number>();
  for (const piece of pieces) {
    const result = byNo.get(piece.no);
    work.set(piece.dumpId, (work.get(piece.dumpId) ?? 0) + (result ? result.bytes + result.rawBytes : 0));
  }
  const starts = entries.map((e) => layout.offsets.get(e.dumpId)!).sort((a, b) => a - b);
  const blockOf = (dumpId: number) => {
    const start = layout.offsets.get(dumpId)!;
    const next = starts.find((offset) => offset > start);
    return { start, end: (next ?? layout.bytes) - 1 };
  };
  const shares = Array.from({ length: count }, () => ({ work: 0, ids: [] as number[] }));
  for (const entry of [...entries].sort((a, b) => (work.get(b.dumpId) ?? 0) - (work.get(a.dumpId) ?? 0))) {
    const lightest = shares.reduce((min, share) => (share.work < min.work ? share : min));
    lightest.work += work.get(entry.dumpId) ?? 0;
    lightest.ids.push(entry.dumpId);
  }
  return shares.map(({ ids }) => {
    const blocks = ids.map(blockOf).sort((a, b) => a.start - b.start);
    const ranges = [{ start: 0, end: layout.head.length - 1 }];
    for (const block of blocks) {
      const last = ranges.at(-1)!;
      if (block.start === last.end + 1) last.end = block.end;
      else ranges.push({ ...block });
    }
    return { dumpIds: [...ids].sort((a, b) => layout.offsets.get(a)! - layout.offsets.get(b)!), ranges };
  });
}

/** The piece's object must be in storage with its recorded size, sealed with its recorded digest. */
async function proveStored(store: ObjectStore, piece: PieceResult): Promise<void> {
  const info = await store.head(piece.key).catch((error: unknown) => {
    throw readBackFailed(error);
  });
  if (!info) throw pieceFailed(piece.no, `piece ${piece.no} is missing from storage`);
  if (info.bytes !== piece.bytes)
    throw pieceFailed(piece.no, `storage holds ${info.bytes} bytes of piece ${piece.no}, ${piece.bytes} were recorded`);
  if (info.manifest?.sha256 !== piece.sha256)
    throw pieceFailed(piece.no, `piece ${piece.no} is not sealed in storage with the digest recorded for it`);
}

function describePiece(piece: PlannedPiece): string {
  if (piece.kind === 'large_objects') return `piece ${piece.no} (large objects)`;
  return `piece ${piece.no} (${piece.schema ?? ''}.${piece.table ?? ''}, part ${piece.part + 1} of ${piece.parts})`;
}
