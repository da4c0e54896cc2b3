import { once } from 'node:events';
import { Transform } from 'node:stream';
import zlib from 'node:zlib';
import { drained } from './restore-process.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { verificationFailed } from './verification-failures.ts';

// Compressed bytes queued for the decompressor before the stream waits for it.
const DECODE_QUEUE_BYTES = 4 * 1024 * 1024;

/** A pass-through stage after the zstd wrapper that decodes what is about to be stored. */
export interface WrapperCheck {
  /** Insert into the stream after the zstd wrapper, before storage. */
  readonly tap: Transform;
  /** Once the stream has ended: how many bytes the frame decoded to, its checksum checked; or a verification failure. */
  result(): Promise<number>;
}

/**
 * Proves, while the archive is written, that the zstd-wrapped stream decodes: every compressed chunk
 * goes on to storage at once and also into a decompressor on the thread pool, whose output is only
 * counted. zstd checks the frame's content checksum (XXH64 of everything the compressor was fed) at the
 * end, so a count equal to the bytes read through means the stored bytes decode to exactly the archive
 * pg_restore read. Doing it here, beside the dump, spares verification a second full decompression,
 * and a bad frame fails the stream before storage could complete it.
 */
export function startZstdCheck(): WrapperCheck {
  const decoder = zlib.createZstdDecompress({ chunkSize: 256 * 1024 });
  let decoded = 0;
  let failure: BackupFailure | undefined;
  decoder.on('data', (chunk: Buffer) => {
    decoded += chunk.length;
  });
  const ended = once(decoder, 'end').then(() => decoded);
  ended.catch(() => {});
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      this.push(chunk);
      if (decoder.write(chunk) || decoder.writableLength < DECODE_QUEUE_BYTES) return callback();
      void drained(decoder).then(() => callback(failure));
    },
    // The stream ends only once the frame decoded and its checksum matched, so storage never completes
    // an upload of a bad frame (the decoder is at most a few MiB behind).
    flush(callback) {
      decoder.end();
      ended.then(
        () => callback(),
        () => callback(failure ?? verificationFailed('the zstd stream does not decode')),
      );
    },
  });
  decoder.on('error', (error: Error) => {
    failure ??= verificationFailed(`the zstd stream does not decode: ${error.message}`);
    if (!tap.destroyed) tap.destroy(failure);
  });
  tap.once('close', () => {
    if (!decoder.writableEnded) decoder.destroy();
  });
  return {
    tap,
    async result() {
      if (failure) throw failure;
      try {
        return await ended;
      } catch {
        throw failure ?? verificationFailed('the zstd stream does not decode');
      }
    },
  };
}
