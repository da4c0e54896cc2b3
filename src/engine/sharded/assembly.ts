import { deflateRawSync } from 'node:zlib';
import type { ComposeSegment } from '../../storage/object-store.ts';
import { adler32, adler32Combine } from './adler32.ts';
import { archiveInt, frameChunks } from './archive-chunks.ts';
import { dataEntries, writeArchiveHead, type ArchiveHead } from './archive-head.ts';
import type { PieceResult, PlannedPiece } from './types.ts';

/** What pg_dump writes after a table's COPY rows (pg_dump.c, dumpTableData_copy); pieces hold only rows. */
export const COPY_TERMINATOR = Buffer.from('\\.\n\n\n', 'latin1');

/** The data block types of pg_backup_archiver.h: BLK_DATA and BLK_BLOBS. */
const BLOCK_DATA = 1;
const BLOCK_BLOBS = 3;

/** The assembled archive: the head with real offsets, then every data block, as segments to compose. */
export interface ArchiveLayout {
  /** The head as written into the archive (offsets set). */
  head: Buffer;
  /** In order: inline bytes (the head is the first) and whole piece objects as inclusive byte ranges. */
  segments: ComposeSegment[];
  /** The archive's size. */
  bytes: number;
  /** Each data entry's block offset. */
  offsets: Map<number, number>;
}

/** Why the pieces cannot be assembled into an archive. */
export class AssemblyError extends Error {}

/**
 * Lays out the archive that joins the pieces: the head with every data entry's offset, then, in
 * table-of-contents order, each entry's block:
 * - table data: block type 1, the dumpId, a chunk holding the zlib header of the level, each piece's
 *   stored chunks in part order (raw deflate ending with a sync flush, see piece-deflate.ts), a chunk
 *   holding the deflated COPY terminator with the final block and the Adler-32 combined over every
 *   piece's rows and the terminator, and a zero length;
 * - large objects: block type 3, the dumpId, the large-object piece's stored bytes (each object's
 *   oid, zlib stream and zero), and the final zero.
 * Every data entry needs its pieces, all of them, and no piece may name another entry.
 */
export function layoutArchive(input: {
  head: ArchiveHead;
  pieces: readonly PlannedPiece[];
  results: readonly PieceResult[];
  level: number;
}): ArchiveLayout {
  const { head, level } = input;
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new AssemblyError(`zlib level ${level} is not 1–9`);
  const results = new Map(input.results.map((r) => [r.no, r]));
  const byEntry = new Map<number, PlannedPiece[]>();
  for (const piece of input.pieces) {
    const list = byEntry.get(piece.dumpId) ?? [];
    list.push(piece);
    byEntry.set(piece.dumpId, list);
  }
  const entries = dataEntries(head);
  const known = new Set(entries.map((e) => e.dumpId));
  for (const dumpId of byEntry.keys())
    if (!known.has(dumpId)) throw new AssemblyError(`pieces name entry ${dumpId}, which has no data block`);

  const segments: ComposeSegment[] = [];
  let pending: Buffer[] = [];
  let bytes = head.bytes;
  const inline = (buffers: Buffer[]) => {
    pending.push(...buffers);
    for (const b of buffers) bytes += b.length;
  };
  const flush = () => {
    if (pending.length > 0) segments.push(Buffer.concat(pending));
    pending = [];
  };
  const offsets = new Map<number, number>();
  for (const entry of entries) {
    const parts = orderedParts(entry.dumpId, entry.tag, byEntry.get(entry.dumpId) ?? [], results);
    offsets.set(entry.dumpId, bytes);
    const isTable = entry.kind === 'table';
    inline([Buffer.of(isTable ? BLOCK_DATA : BLOCK_BLOBS), archiveInt(entry.dumpId)]);
    if (isTable) inline(frameChunks(zlibHeader(level)));
    let adler = 1;
    for (const { piece, result } of parts) {
      if (piece.kind !== (isTable ? 'table' : 'large_objects'))
        throw new AssemblyError(`piece ${piece.no} is not of the kind of entry ${entry.dumpId}`);
      flush();
      segments.push({ key: result.key, start: 0, end: result.bytes - 1 });
      bytes += result.bytes;
      adler = adler32Combine(adler, result.adler32, result.rawBytes);
    }
    if (isTable) {
      adler = adler32Combine(adler, adler32(COPY_TERMINATOR), COPY_TERMINATOR.length);
      const trailer = Buffer.alloc(4);
      trailer.writeUInt32BE(adler);
      inline(frameChunks(Buffer.concat([deflateRawSync(COPY_TERMINATOR, { level }), trailer])));
    }
    inline([archiveInt(0)]);
  }
  flush();
  const written = writeArchiveHead(head, offsets);
  if (written.length !== head.bytes) throw new AssemblyError('the rewritten head changed length');
  return { head: written, segments: [written, ...segments], bytes, offsets };
}

/** An entry's pieces with their results, in part order; every part exactly once, each finished. */
function orderedParts(
  dumpId: number,
  tag: string | null,
  pieces: PlannedPiece[],
  results: Map<number, PieceResult>,
): Array<{ piece: PlannedPiece; result: PieceResult }> {
  const name = `entry ${dumpId} (${tag ?? ''})`;
  if (pieces.length === 0) throw new AssemblyError(`${name} has no piece`);
  const sorted = [...pieces].sort((a, b) => a.part - b.part);
  sorted.forEach((piece, i) => {
    if (piece.part !== i || piece.parts !== sorted.length)
      throw new AssemblyError(`${name}: its pieces are not parts 0 to ${sorted.length - 1} of ${sorted.length}`);
  });
  return sorted.map((piece) => {
    const result = results.get(piece.no);
    if (!result) throw new AssemblyError(`piece ${piece.no} of ${name} has not finished`);
    if (!Number.isSafeInteger(result.bytes) || result.bytes <= 0)
      throw new AssemblyError(`piece ${piece.no} of ${name} stored ${result.bytes} bytes`);
    return { piece, result };
  });
}

/** zlib's two-byte header for a level (deflate.c: the level flags, then the check bits). */
export function zlibHeader(level: number): Buffer {
  const flags = level < 2 ? 0 : level < 6 ? 1 : level === 6 ? 2 : 3;
  let header = (0x78 << 8) | (flags << 6);
  header += 31 - (header % 31);
  return Buffer.of(header >> 8, header & 0xff);
}
