import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { setImmediate as nextTick } from 'node:timers/promises';

export const MiB = 1024 * 1024;

export interface GeneratedStream {
  stream: Readable;
  /** SHA-256 and length of what the stream has produced so far (all of it, once it ended). */
  produced(): { bytes: number; sha256: string };
}

export interface GenerateOptions {
  chunkSize?: number;
  /** Throw this error once this many bytes were produced. */
  failAfter?: number;
  /** Yield to the event loop between chunks, so a test can act mid-stream. */
  slow?: boolean;
}

/**
 * A stream of `total` bytes (Infinity for endless) of varying content, produced lazily so a
 * 200 MiB test never holds 200 MiB. Every chunk is a fresh buffer.
 */
export function generate(total: number, options: GenerateOptions = {}): GeneratedStream {
  const chunkSize = options.chunkSize ?? 64 * 1024;
  const hash = createHash('sha256');
  let bytes = 0;
  let digest: string | null = null;
  // Cheap varying content: a sliding window over random bytes, stamped with a counter.
  const base = randomBytes(chunkSize + 4096);
  async function* chunks(): AsyncGenerator<Buffer> {
    let counter = 0;
    while (bytes < total) {
      if (options.failAfter !== undefined && bytes >= options.failAfter) throw new Error('the source broke on purpose');
      const size = Math.min(chunkSize, total - bytes);
      const shift = (counter * 7) % 4096;
      const chunk = Buffer.from(base.subarray(shift, shift + size));
      if (size >= 8) chunk.writeDoubleLE(counter, 0);
      counter += 1;
      hash.update(chunk);
      bytes += size;
      if (options.slow) await nextTick();
      yield chunk;
    }
    digest = hash.digest('hex');
  }
  return {
    stream: Readable.from(chunks(), { objectMode: false }),
    produced: () => ({ bytes, sha256: digest ?? '(stream not finished)' }),
  };
}

export function sha256(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Reads a stream to its end: its length, digest and (if small) content. */
export async function drain(stream: Readable): Promise<{ bytes: number; sha256: string; content: Buffer }> {
  const hash = createHash('sha256');
  const kept: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of stream) {
    const buffer = chunk as Buffer;
    hash.update(buffer);
    bytes += buffer.byteLength;
    if (bytes <= 8 * MiB) kept.push(buffer);
  }
  return { bytes, sha256: hash.digest('hex'), content: Buffer.concat(kept) };
}

/** A known buffer of `size` bytes, for range reads. */
export function knownBytes(size: number): Buffer {
  const buffer = Buffer.alloc(size);
  for (let i = 0; i < size; i += 1) buffer[i] = (i * 31 + (i >> 8)) & 0xff;
  return buffer;
}
