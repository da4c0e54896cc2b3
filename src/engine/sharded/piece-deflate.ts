import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { freeBuffer } from '../../shared/free-buffer.ts';
import { archiveInt, frameChunks, MAX_CHUNK_BYTES } from './archive-chunks.ts';

/** zlib's output buffer per call by default: each output slice becomes one chunk, well under MAX_CHUNK_BYTES. */
const ZLIB_CHUNK_BYTES = 256 * 1024;

export interface PieceDeflateOptions {
  /** zlib level, 1–9 (the archive's gzip level). */
  level: number;
  /** zlib's output buffer per call (each output slice becomes one chunk); default 256 KiB. */
  outputBytes?: number;
  /**
   * The chunks written are this stream's alone (no one else holds them): each is freed once zlib has
   * taken it in, instead of waiting for V8 to collect it.
   */
  ownsInput?: boolean;
}

/** What zlib writes on Z_FINISH right after a sync flush: an empty final block (static, 10 bits), padded. */
const EMPTY_FINAL_BLOCK = Buffer.from([0x03, 0x00]);
/** The zlib wrapper around deflate data: a 2-byte header, and the Adler-32 after the final block. */
const ZLIB_HEADER_BYTES = 2;
const HELD_BACK_BYTES = EMPTY_FINAL_BLOCK.length + 4;

/**
 * Compresses one piece of a table's COPY text so it can be joined into the table's single data block
 * (the pigz technique, see ../shared/docs/sharded-capture.md): deflate ending with a sync flush and no
 * final block, so the next piece's deflate output may follow it directly; framed as the archive's
 * chunks. It counts the uncompressed bytes; their Adler-32, from which the block's zlib trailer is
 * combined (assembly.ts), comes from zlib itself: the piece runs as a zlib stream that is synced and
 * then finished, and the stream's 2-byte header, its empty final block and its trailer (whose
 * Adler-32 is kept) are cut off, leaving exactly the raw deflate of a sync-flushed stream. Compression
 * and the checksum run on the thread pool; backpressure holds: when the reader stops, zlib's output
 * stays queued and the writer waits.
 */
export class PieceDeflate extends Transform {
  #rawBytes = 0;
  #adler = 1;
  #bytes = 0;
  readonly #zlib: zlib.Deflate;
  readonly #suffix: Buffer | null;
  /** A large object keeps its whole zlib stream; a table piece's is cut down to raw deflate. */
  readonly #cut: boolean;
  readonly #ownsInput: boolean;
  #headerLeft = ZLIB_HEADER_BYTES;
  /** The last bytes zlib wrote, held back until more follow (at the end: the final block and trailer). */
  #held: Buffer = Buffer.alloc(0);

  constructor(options: PieceDeflateOptions, shape: { zlibStream?: boolean; prefix?: Buffer; suffix?: Buffer } = {}) {
    super({ readableHighWaterMark: 1024 * 1024, writableHighWaterMark: 256 * 1024 });
    assertLevel(options.level);
    const chunkSize = options.outputBytes ?? ZLIB_CHUNK_BYTES;
    if (!Number.isInteger(chunkSize) || chunkSize < 1024 || chunkSize > ZLIB_CHUNK_BYTES)
      throw new RangeError(`outputBytes ${chunkSize} is not 1 KiB to ${ZLIB_CHUNK_BYTES} bytes`);
    this.#zlib = zlib.createDeflate({ level: options.level, chunkSize });
    this.#suffix = shape.suffix ?? null;
    this.#cut = !shape.zlibStream;
    this.#ownsInput = options.ownsInput === true;
    if (shape.prefix) this.#emit([shape.prefix]);
    this.#zlib.on('data', (data: Buffer) => {
      if (!this.#emit(this.#cut ? frameOne(this.#trim(data)) : frameChunks(data))) this.#zlib.pause();
    });
    this.#zlib.on('error', (error) => this.destroy(error));
  }

  /** Uncompressed bytes taken so far. */
  get rawBytes(): number {
    return this.#rawBytes;
  }

  /**
   * Adler-32 of a table piece's uncompressed bytes, once it ended (1 before, and for a large object,
   * whose own zlib stream carries its own).
   */
  get adler32(): number {
    return this.#adler;
  }

  /** Bytes emitted so far (chunk headers included): the stored object's size once ended. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Drops the zlib header and holds the last bytes back; returns what may go out now, in order. */
  #trim(data: Buffer): Buffer[] {
    if (this.#headerLeft > 0) {
      const skip = Math.min(this.#headerLeft, data.length);
      this.#headerLeft -= skip;
      data = data.subarray(skip);
    }
    if (data.length >= HELD_BACK_BYTES) {
      const ready = [this.#held, data.subarray(0, data.length - HELD_BACK_BYTES)];
      // A copy: a view would keep zlib's whole output buffer alive.
      this.#held = Buffer.from(data.subarray(data.length - HELD_BACK_BYTES));
      return ready;
    }
    const joined = Buffer.concat([this.#held, data]);
    const keep = Math.min(HELD_BACK_BYTES, joined.length);
    this.#held = joined.subarray(joined.length - keep);
    return [joined.subarray(0, joined.length - keep)];
  }

  #emit(buffers: Buffer[]): boolean {
    let more = true;
    for (const buffer of buffers) {
      this.#bytes += buffer.length;
      more = this.push(buffer) && more;
    }
    return more;
  }

  override _read(size: number): void {
    if (this.#zlib.isPaused()) this.#zlib.resume();
    super._read(size);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk.length === 0) return callback();
    this.#rawBytes += chunk.length;
    // zlib calls back once it took the chunk and its output was read: that is the backpressure.
    this.#zlib.write(chunk, (error) => {
      if (!error && this.#ownsInput) freeBuffer(chunk);
      callback(error ?? null);
    });
  }

  override _flush(callback: TransformCallback): void {
    this.#zlib.once('end', () => {
      if (this.#cut) {
        const held = this.#held;
        if (this.#headerLeft > 0 || held.length !== HELD_BACK_BYTES || !held.subarray(0, 2).equals(EMPTY_FINAL_BLOCK))
          return callback(new Error(`zlib ended the piece with ${held.toString('hex')}, not an empty final block`));
        // The trailer's checksum covers what zlib took in: it must be every byte this stream was given.
        if (this.#zlib.bytesWritten !== this.#rawBytes)
          return callback(new Error(`zlib took ${this.#zlib.bytesWritten} bytes of the piece's ${this.#rawBytes}`));
        this.#adler = held.readUInt32BE(EMPTY_FINAL_BLOCK.length);
      }
      if (this.#suffix) this.#emit([this.#suffix]);
      callback();
    });
    if (!this.#cut) return void this.#zlib.end();
    // The sync flush ends the piece's deflate data on a byte boundary; what finishing adds after it
    // is only the empty final block and the trailer, which are cut off.
    this.#zlib.flush(zlib.constants.Z_SYNC_FLUSH, () => this.#zlib.end());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#zlib.destroy();
    callback(error);
  }
}

/** Buffers (together at most one zlib output, well under MAX_CHUNK_BYTES) as one chunk; none for no bytes. */
function frameOne(parts: Buffer[]): Buffer[] {
  const used = parts.filter((part) => part.length > 0);
  const total = used.reduce((sum, part) => sum + part.length, 0);
  if (total === 0) return [];
  if (total > MAX_CHUNK_BYTES) return used.flatMap(frameChunks);
  return [archiveInt(total), ...used];
}

/** A table piece's compressor: write its COPY rows (no terminator), read its stored object's bytes. */
export function createPieceDeflate(options: PieceDeflateOptions): PieceDeflate {
  return new PieceDeflate(options);
}

/**
 * One large object as pg_dump writes it inside a BLOBS block (pg_backup_custom.c: _StartLO,
 * _EndLO): its oid, its own complete zlib stream as chunks, and a zero length. Write the object's
 * bytes; a large-object piece is these, one after another (assembly adds the block's final zero).
 */
export function createLargeObjectDeflate(options: PieceDeflateOptions & { oid: number }): PieceDeflate {
  if (!Number.isSafeInteger(options.oid) || options.oid <= 0 || options.oid > 0xffffffff)
    throw new RangeError(`large object oid ${options.oid} is not valid`);
  // pg_dump writes the oid with WriteInt (a C int): oids from 2^31 up come out negative.
  const asInt = options.oid > 0x7fffffff ? options.oid - 0x1_0000_0000 : options.oid;
  return new PieceDeflate(options, { zlibStream: true, prefix: archiveInt(asInt), suffix: archiveInt(0) });
}

function assertLevel(level: number): void {
  if (!Number.isInteger(level) || level < 1 || level > 9) throw new RangeError(`zlib level ${level} is not 1–9`);
}
