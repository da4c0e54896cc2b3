import { createHash, type Hash } from 'node:crypto';
import type { BackupFailure } from '../../shared/backup-failure.ts';
import type { ComposeSegment } from '../../storage/object-store.ts';
import { pieceFailed, verificationFailed } from '../verification-failures.ts';
import type { PieceResult } from './types.ts';

/**
 * Checks a composed archive against its layout while it is read back once: each inline segment must
 * hold exactly the bytes laid out, and each piece's range the bytes whose SHA-256 the piece recorded.
 * Fed every byte in order (`push`); `finish` throws the first difference found, naming the piece.
 */
export class SegmentCheck {
  readonly #segments: ComposeSegment[];
  readonly #pieces: Map<string, PieceResult>;
  #index = 0;
  #offset = 0;
  #position = 0;
  #hash: Hash | null = null;
  #problem: BackupFailure | undefined;

  constructor(segments: readonly ComposeSegment[], pieces: readonly PieceResult[]) {
    this.#segments = segments.filter((s) => (Buffer.isBuffer(s) ? s.length > 0 : s.end >= s.start));
    this.#pieces = new Map(pieces.map((p) => [p.key, p]));
    for (const s of this.#segments) {
      if (Buffer.isBuffer(s)) continue;
      const piece = this.#pieces.get(s.key);
      if (!piece || s.start !== 0 || s.end !== piece.bytes - 1)
        throw new Error(`the layout's range of ${s.key} is not a whole piece`);
    }
  }

  push = (chunk: Buffer): void => {
    let at = 0;
    while (at < chunk.length && this.#problem === undefined) {
      const segment = this.#segments[this.#index];
      if (segment === undefined) {
        this.#problem = verificationFailed('the composed archive is longer than its layout');
        return;
      }
      const length = Buffer.isBuffer(segment) ? segment.length : segment.end - segment.start + 1;
      const take = Math.min(length - this.#offset, chunk.length - at);
      const bytes = chunk.subarray(at, at + take);
      if (Buffer.isBuffer(segment)) {
        if (!bytes.equals(segment.subarray(this.#offset, this.#offset + take)))
          this.#problem = verificationFailed(
            `the composed archive differs from its layout within bytes ${this.#position}-${this.#position + take - 1}`,
          );
      } else {
        this.#hash ??= createHash('sha256');
        this.#hash.update(bytes);
      }
      at += take;
      this.#offset += take;
      this.#position += take;
      if (this.#offset === length) {
        if (!Buffer.isBuffer(segment)) {
          const piece = this.#pieces.get(segment.key)!;
          if (this.#hash!.digest('hex') !== piece.sha256)
            this.#problem = pieceFailed(
              piece.no,
              `piece ${piece.no} does not hold in the archive the bytes it recorded`,
            );
          this.#hash = null;
        }
        this.#index += 1;
        this.#offset = 0;
      }
    }
  };

  /** The first difference found so far (it explains why pg_restore then failed, if it did). */
  get problem(): BackupFailure | undefined {
    return this.#problem;
  }

  /** Throws the first difference, or that the archive ended early. */
  finish(): void {
    if (this.#problem) throw this.#problem;
    if (this.#index !== this.#segments.length)
      throw verificationFailed('the composed archive is shorter than its layout');
  }
}
