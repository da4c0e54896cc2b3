import { Transform, type TransformCallback } from 'node:stream';
import zlib from 'node:zlib';
import { adler32 } from './adler32.ts';
import { archiveInt, frameChunks } from './archive-chunks.ts';

/** zlib's output buffer per call: each output slice becomes one chunk, well under MAX_CHUNK_BYTES. */
const ZLIB_CHUNK_BYTES = 256 * 1024;

export interface PieceDeflateOptions {
  /** zlib level, 1–9 (the archive's gzip level). */
  level: number;
}

/**
 * Compresses one piece of a table's COPY text so it can be joined into the table's single data block
 * (the pigz technique, see ../shared/docs/sharded-capture.md): raw deflate ending with a sync flush
 * and no final block, so the next piece's deflate output may follow it directly; framed as the
 * archive's chunks. It counts the uncompressed bytes and computes their Adler-32 on the way, from
 * which the block's zlib trailer is combined (assembly.ts). Compression runs on the thread pool;
 * backpressure holds: when the reader stops, zlib's output stays queued and the writer waits.
 */
export class PieceDeflate extends Transform {
  #rawBytes = 0;
  #adler = 1;
  #bytes = 0;
  readonly #zlib: zlib.DeflateRaw | zlib.Deflate;
  readonly #suffix: Buffer | null;
  /** A zlib stream carries its own Adler-32: only raw deflate pieces need ours. */
  readonly #countAdler: boolean;

  constructor(options: PieceDeflateOptions, shape: { zlibStream?: boolean; prefix?: Buffer; suffix?: Buffer } = {}) {
    super({ readableHighWaterMark: 1024 * 1024, writableHighWaterMark: 256 * 1024 });
    assertLevel(options.level);
    this.#zlib = shape.zlibStream
      ? zlib.createDeflate({ level: options.level, chunkSize: ZLIB_CHUNK_BYTES })
      : zlib.createDeflateRaw({
          level: options.level,
          chunkSize: ZLIB_CHUNK_BYTES,
          finishFlush: zlib.constants.Z_SYNC_FLUSH,
        });
    this.#suffix = shape.suffix ?? null;
    this.#countAdler = !shape.zlibStream;
    if (shape.prefix) this.#emit([shape.prefix]);
    this.#zlib.on('data', (data: Buffer) => {
      if (!this.#emit(frameChunks(data))) this.#zlib.pause();
    });
    this.#zlib.on('error', (error) => this.destroy(error));
  }

  /** Uncompressed bytes taken so far. */
  get rawBytes(): number {
    return this.#rawBytes;
  }

  /** Adler-32 of the uncompressed bytes taken so far (1 for a large object's own zlib stream, which has its own). */
  get adler32(): number {
    return this.#adler;
  }

  /** Bytes emitted so far (chunk headers included): the stored object's size once ended. */
  get bytes(): number {
    return this.#bytes;
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
    if (this.#countAdler) this.#adler = adler32(chunk, this.#adler);
    // zlib calls back once it took the chunk and its output was read: that is the backpressure.
    this.#zlib.write(chunk, (error) => callback(error ?? null));
  }

  override _flush(callback: TransformCallback): void {
    this.#zlib.once('end', () => {
      if (this.#suffix) this.#emit([this.#suffix]);
      callback();
    });
    this.#zlib.end();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#zlib.destroy();
    callback(error);
  }
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
