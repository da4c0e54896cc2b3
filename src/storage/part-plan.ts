import { storageFailed } from './errors.ts';

export const MiB = 1024 ** 2;
export const GiB = 1024 ** 3;

/** S3's multipart limits (the last part may be smaller than the minimum). */
export const S3_MAX_PARTS = 10_000;
export const S3_MIN_PART_SIZE = 5 * MiB;
export const S3_MAX_PART_SIZE = 5 * GiB;

/**
 * How much bigger than its estimate a stream may grow. Estimates come from the database size, and a
 * compressed archive can reach about 1.2× that for bytea-heavy data (performance.md B3 note 4);
 * 1.5× leaves a margin over that worst case.
 */
export const DEFAULT_HEADROOM = 1.5;
/** Below this, a multi-GB upload spends its time on request overhead (performance.md C3). */
export const DEFAULT_PART_SIZE_FLOOR = 16 * MiB;

export interface PartPlanOptions {
  /** The store's part-count limit: 10,000 on AWS, lower on some S3-compatible stores. */
  maxParts: number;
  /** Smallest part size to use, at least S3's 5 MiB. */
  partSizeFloor?: number;
  headroom?: number;
}

export interface PartPlan {
  partSize: number;
  maxParts: number;
  /** The largest stream this plan can carry (`partSize × maxParts`); the upload fails beyond it. */
  maxBytes: number;
}

/**
 * Chooses the part size for a streamed multipart upload of about `sizeEstimate` bytes: large
 * enough that `headroom × sizeEstimate` fits in `maxParts` parts, rounded up to whole MiB, never
 * below the floor. The part buffers are sized once, before an upload of unknown length has
 * started, so this is the only point where the part-count limit can be designed away. Throws
 * `too_large` (before anything is uploaded) when even 5 GiB parts could not hold the estimate.
 */
export function planParts(sizeEstimate: number | undefined, options: PartPlanOptions): PartPlan {
  const { maxParts } = options;
  const floor = options.partSizeFloor ?? DEFAULT_PART_SIZE_FLOOR;
  const headroom = options.headroom ?? DEFAULT_HEADROOM;
  if (!Number.isInteger(maxParts) || maxParts < 1 || maxParts > S3_MAX_PARTS) {
    throw storageFailed('invalid_config', `maxParts must be an integer from 1 to ${S3_MAX_PARTS}, not ${maxParts}`);
  }
  if (!Number.isInteger(floor) || floor < S3_MIN_PART_SIZE || floor > S3_MAX_PART_SIZE) {
    throw storageFailed('invalid_config', `the part size floor must be from 5 MiB to 5 GiB, not ${floor} bytes`);
  }
  if (!(headroom >= 1)) throw storageFailed('invalid_config', `headroom must be at least 1, not ${headroom}`);
  if (sizeEstimate !== undefined && (!Number.isFinite(sizeEstimate) || sizeEstimate < 0)) {
    throw storageFailed('invalid_config', `sizeEstimate must be a non-negative number of bytes, not ${sizeEstimate}`);
  }

  const needed = Math.ceil(((sizeEstimate ?? 0) * headroom) / maxParts);
  const partSize = Math.max(floor, Math.ceil(needed / MiB) * MiB);
  if (partSize > S3_MAX_PART_SIZE) {
    throw storageFailed(
      'too_large',
      `a stream of about ${formatBytes(sizeEstimate ?? 0)} would need parts of ${formatBytes(partSize)} to fit in ` +
        `${maxParts} parts with ${headroom}× headroom, and parts may be at most 5 GiB`,
    );
  }
  return { partSize, maxParts, maxBytes: partSize * maxParts };
}

/** `1.5 GiB`, `640 MiB`, `12 B`: for messages. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${unit === 0 ? value : Number(value.toFixed(1))} ${units[unit]}`;
}
