import type { UploadResult, ObjectStore } from '../../storage/object-store.ts';
import { isBackupFailure } from '../../shared/backup-failure.ts';
import { pieceFailed, readBackFailed, verificationFailed } from '../verification-failures.ts';
import { verifyArchive, type VerifiedArchive } from '../verify-archive.ts';
import { ArchiveHeadError, parseArchiveHead } from './archive-head.ts';
import { AssemblyError, layoutArchive } from './assembly.ts';
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
  try {
    const head = parseArchiveHead(Buffer.from(plan.headBase64, 'base64'));
    layout = layoutArchive({ head, pieces: plan.pieces, results: used, level: plan.compressionLevel });
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
      { pgRestore: options.pgRestore, wrapper: 'none', observe: check.push, ...(signal ? { signal } : {}) },
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
