import { createHash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { storageFailed } from './errors.ts';

const MiB = 1024 * 1024;

export interface ByteMeterOptions {
  /** Fail with `too_large` as soon as more than this many bytes arrive. */
  maxBytes?: number;
  /** Explains the limit in the error message. */
  limitReason?: string;
  /**
   * Size of the chunks passed on; small incoming chunks are copied together into chunks this big.
   * 0 passes each chunk on as it came (for a sink that copies anyway).
   */
  chunkSize?: number;
  /** Called each time a chunk is passed on, with the bytes read so far. */
  onBytes?: (bytesRead: number) => void;
}

/**
 * Sits between the body and the driver: counts and hashes (SHA-256) exactly the bytes that pass,
 * stops the stream the moment it outgrows `maxBytes`, and (unless `chunkSize` is 0) re-chunks it
 * into 1 MiB pieces.
 *
 * The re-chunking matters for a sink that keeps what it is given. pg_dump's stdout arrives in ~11 KB
 * chunks, and per-chunk overhead downstream is most of Node's cost (performance.md B6); and a chunk
 * that is a view into a larger pooled buffer keeps that whole backing store alive while it is held
 * (aws-sdk-js-v3 #8286, worse on Node 24). The S3 driver's writer copies into its own part buffers
 * and holds nothing, so it asks for no re-chunking.
 */
export class ByteMeter extends Transform {
  readonly #hash = createHash('sha256');
  readonly #maxBytes: number;
  readonly #limitReason: string;
  readonly #chunkSize: number;
  readonly #onBytes: ((bytesRead: number) => void) | undefined;
  #bytesRead = 0;
  #pending: Buffer | null = null;
  #filled = 0;
  #sha256: string | null = null;

  constructor(options: ByteMeterOptions = {}) {
    super();
    this.#maxBytes = options.maxBytes ?? Number.MAX_SAFE_INTEGER;
    this.#limitReason = options.limitReason ?? '';
    this.#chunkSize = options.chunkSize ?? MiB;
    this.#onBytes = options.onBytes;
  }

  /** Bytes that have passed through so far. */
  get bytesRead(): number {
    return this.#bytesRead;
  }

  /** Hex SHA-256 of everything that passed; only once the stream has ended. */
  get sha256(): string {
    if (this.#sha256 === null) throw new Error('ByteMeter: the digest is only known after the stream ended');
    return this.#sha256;
  }

  /** Whether the whole body passed (the input ended and the digest is final). */
  get complete(): boolean {
    return this.#sha256 !== null;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.#bytesRead + chunk.byteLength > this.#maxBytes) {
      callback(storageFailed('too_large', `the stream grew past ${this.#maxBytes} bytes${this.#limitReason}`));
      return;
    }
    this.#hash.update(chunk);
    this.#bytesRead += chunk.byteLength;
    // Already as large as the pieces it would be copied into (the engine's 1 MiB coalesced chunks):
    // pass it on rather than copy it into a fresh buffer (one allocation and copy per MiB saved).
    if (
      this.#chunkSize === 0 ||
      (this.#filled === 0 && chunk.byteLength >= this.#chunkSize && chunk.byteLength === chunk.buffer.byteLength)
    ) {
      this.push(chunk);
      this.#onBytes?.(this.#bytesRead);
      callback();
      return;
    }
    let offset = 0;
    while (offset < chunk.byteLength) {
      this.#pending ??= Buffer.allocUnsafe(this.#chunkSize);
      const copied = chunk.copy(this.#pending, this.#filled, offset);
      offset += copied;
      this.#filled += copied;
      if (this.#filled === this.#chunkSize) this.#pushPending();
    }
    callback();
  }

  override _flush(callback: TransformCallback): void {
    this.#pushPending();
    this.#sha256 = this.#hash.digest('hex');
    callback();
  }

  #pushPending(): void {
    if (this.#pending === null || this.#filled === 0) return;
    const out = this.#filled === this.#chunkSize ? this.#pending : this.#pending.subarray(0, this.#filled);
    this.#pending = null;
    this.#filled = 0;
    this.push(out);
    this.#onBytes?.(this.#bytesRead);
  }
}
