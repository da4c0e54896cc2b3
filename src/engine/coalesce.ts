import { Transform } from 'node:stream';
import { freeBuffer } from '../shared/free-buffer.ts';

/** Default size of the buffers handed downstream. */
export const DEFAULT_COALESCE_BYTES = 1024 * 1024;

/**
 * Gathers pg_dump's ~11 KB pipe reads into `size`-byte buffers, so every later stage (zstd, hashing,
 * the upload) pays its per-chunk cost ~100 times less often (performance.md B6). `onChunk` sees every
 * incoming byte count as it arrives, which is what the watchdog and progress watch. It owns its input:
 * a chunk that is the whole of its buffer (as every pipe read is) is freed once copied.
 */
export function createCoalescer(size: number = DEFAULT_COALESCE_BYTES, onChunk?: (bytes: number) => void): Transform {
  let buffer = Buffer.allocUnsafe(size);
  let filled = 0;
  return new Transform({
    // One buffer in flight downstream is enough; more would only add memory.
    readableHighWaterMark: 1,
    transform(chunk: Buffer, _encoding, callback) {
      onChunk?.(chunk.length);
      let offset = 0;
      while (offset < chunk.length) {
        const copied = chunk.copy(buffer, filled, offset);
        filled += copied;
        offset += copied;
        if (filled === size) {
          this.push(buffer);
          buffer = Buffer.allocUnsafe(size);
          filled = 0;
        }
      }
      // The pipe read is copied and nobody else holds it.
      freeBuffer(chunk);
      callback();
    },
    flush(callback) {
      if (filled > 0) this.push(buffer.subarray(0, filled));
      callback();
    },
  });
}
