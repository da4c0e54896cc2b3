/**
 * The custom format's framing of a data block's compressed bytes (pg_backup_custom.c:
 * _CustomWriteFunc, _EndData): each chunk is an integer length (a sign byte, then 4 bytes little-endian;
 * every archive pg_dump writes has intSize 4) and that many bytes; a zero length ends the block, so a
 * chunk is never empty.
 */

/** Chunks at most this large: pg_restore allocates each chunk whole while reading. */
export const MAX_CHUNK_BYTES = 1024 * 1024;

/** The archive's integer (WriteInt with intSize 4). */
export function archiveInt(value: number): Buffer {
  const out = Buffer.alloc(5);
  out[0] = value < 0 ? 1 : 0;
  out.writeUInt32LE(Math.abs(value), 1);
  return out;
}

/** Frames bytes as chunks of at most MAX_CHUNK_BYTES (none for no bytes); views, not copies. */
export function frameChunks(data: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let at = 0; at < data.length; at += MAX_CHUNK_BYTES) {
    const piece = data.subarray(at, at + MAX_CHUNK_BYTES);
    out.push(archiveInt(piece.length), piece);
  }
  return out;
}

/** Reads framed chunks back (for tests and checks): the payload, and where the framing ended. */
export function unframeChunks(data: Buffer, start = 0): { payload: Buffer; end: number; terminated: boolean } {
  const parts: Buffer[] = [];
  let at = start;
  while (at + 5 <= data.length) {
    if (data[at] !== 0) throw new Error(`a negative chunk length at ${at}`);
    const length = data.readUInt32LE(at + 1);
    at += 5;
    if (length === 0) return { payload: Buffer.concat(parts), end: at, terminated: true };
    if (at + length > data.length) throw new Error(`a chunk at ${at - 5} runs past the end`);
    parts.push(data.subarray(at, at + length));
    at += length;
  }
  if (at !== data.length) throw new Error(`${data.length - at} bytes after the last chunk`);
  return { payload: Buffer.concat(parts), end: at, terminated: false };
}
