import { storageFailed } from './errors.ts';
import type { ComposeSegment } from './object-store.ts';

export const MiB = 1024 * 1024;
/** S3's smallest part (all but the last) and largest copy part. */
export const S3_MIN_PART_BYTES = 5 * MiB;
export const S3_MAX_PART_BYTES = 5 * 1024 * MiB;

/** A byte range of a stored object, inclusive at both ends. */
export interface SourceRange {
  key: string;
  start: number;
  end: number;
}

/** One part of a composed S3 object: copied server-side from a range, or uploaded from these sources. */
export type ComposePart = { copy: SourceRange; bytes: number } | { upload: Array<Buffer | SourceRange>; bytes: number };

export interface ComposePlanOptions {
  maxParts: number;
  /** Uploaded parts are cut at this size (memory per part in flight). */
  uploadPartBytes?: number;
  /** Ranges shorter than this are read and uploaded rather than copied. */
  minCopyBytes?: number;
}

/**
 * Cuts the segments of an object into multipart-upload parts: ranges of at least `minCopyBytes`
 * become UploadPartCopy parts (split to at most 5 GiB each), everything else is gathered into
 * uploaded parts. Every part but the last is at least 5 MiB: when bytes gathered for upload fall
 * short of that before a copied range, the range's first bytes are read to fill the part. If more
 * than `maxParts` parts come out, it tries again with larger upload parts and a larger copy
 * threshold (fewer, bigger parts), and refuses once parts would pass 5 GiB.
 */
export function planCompose(segments: readonly ComposeSegment[], options: ComposePlanOptions): ComposePart[] {
  let uploadPartBytes = options.uploadPartBytes ?? 16 * MiB;
  let minCopyBytes = options.minCopyBytes ?? S3_MIN_PART_BYTES;
  for (;;) {
    const parts = cut(segments, uploadPartBytes, minCopyBytes);
    if (parts.length <= options.maxParts) return parts;
    if (uploadPartBytes * 2 > S3_MAX_PART_BYTES)
      throw storageFailed('too_large', `the object needs more than ${options.maxParts} parts`);
    uploadPartBytes *= 2;
    minCopyBytes = Math.max(minCopyBytes * 2, uploadPartBytes);
  }
}

function cut(segments: readonly ComposeSegment[], uploadPartBytes: number, minCopyBytes: number): ComposePart[] {
  const parts: ComposePart[] = [];
  let pending: Array<Buffer | SourceRange> = [];
  let pendingBytes = 0;
  const flush = () => {
    if (pendingBytes > 0) parts.push({ upload: pending, bytes: pendingBytes });
    pending = [];
    pendingBytes = 0;
  };
  /** Adds bytes to the upload parts, cutting a part whenever it is full. */
  const gather = (segment: Buffer | SourceRange) => {
    let rest = segment;
    for (;;) {
      const length = size(rest);
      if (length === 0) return;
      const room = uploadPartBytes - pendingBytes;
      if (length <= room) {
        pending.push(rest);
        pendingBytes += length;
        if (pendingBytes === uploadPartBytes) flush();
        return;
      }
      const [head, tail] = split(rest, room);
      pending.push(head);
      pendingBytes += room;
      flush();
      rest = tail;
    }
  };
  for (const segment of segments) {
    if (Buffer.isBuffer(segment) || size(segment) < minCopyBytes) {
      gather(segment);
      continue;
    }
    let range: SourceRange = segment;
    if (pendingBytes > 0 && pendingBytes < S3_MIN_PART_BYTES) {
      const [head, tail] = split(range, S3_MIN_PART_BYTES - pendingBytes);
      gather(head);
      range = tail;
    }
    flush();
    const length = size(range);
    if (length < S3_MIN_PART_BYTES) {
      gather(range);
      continue;
    }
    const count = Math.ceil(length / S3_MAX_PART_BYTES);
    const each = Math.ceil(length / count);
    for (let start = range.start; start <= range.end; start += each) {
      const end = Math.min(start + each - 1, range.end);
      parts.push({ copy: { key: range.key, start, end }, bytes: end - start + 1 });
    }
  }
  flush();
  return parts;
}

export function size(segment: Buffer | SourceRange): number {
  return Buffer.isBuffer(segment) ? segment.length : segment.end - segment.start + 1;
}

function split<T extends Buffer | SourceRange>(segment: T, at: number): [T, T] {
  if (Buffer.isBuffer(segment)) return [segment.subarray(0, at) as T, segment.subarray(at) as T];
  const range: SourceRange = segment;
  const head: SourceRange = { key: range.key, start: range.start, end: range.start + at - 1 };
  const tail: SourceRange = { key: range.key, start: range.start + at, end: range.end };
  return [head as T, tail as T];
}

/**
 * Checks segments before anything is written: every range is a valid inclusive range of an object
 * that is not the target and that holds it (`sizeOf` gives a stored object's size, null if missing).
 * Returns the composed size.
 */
export async function checkSegments(
  key: string,
  segments: readonly ComposeSegment[],
  sizeOf: (key: string) => Promise<number | null>,
): Promise<number> {
  const sizes = new Map<string, number | null>();
  let total = 0;
  for (const segment of segments) {
    if (Buffer.isBuffer(segment)) {
      total += segment.length;
      continue;
    }
    const { start, end } = segment;
    if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 0 || end < start)
      throw storageFailed('invalid_range', `the range ${start}-${end} of ${segment.key} is not a valid range`);
    if (segment.key === key) throw storageFailed('invalid_config', `${key} cannot be composed from itself`);
    if (!sizes.has(segment.key)) sizes.set(segment.key, await sizeOf(segment.key));
    const stored = sizes.get(segment.key);
    if (stored === null || stored === undefined) throw storageFailed('not_found', `${segment.key} is not in the store`);
    if (end >= stored)
      throw storageFailed('invalid_range', `the range ${start}-${end} is outside ${segment.key} (${stored} bytes)`);
    total += end - start + 1;
  }
  return total;
}
