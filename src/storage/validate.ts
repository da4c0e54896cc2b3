import { storageFailed } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import type { ReadOptions, UploadOptions } from './object-store.ts';

const METADATA_KEY = /^[a-z0-9][a-z0-9-]{0,63}$/;
const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;
/** S3's limit for user metadata, names and values together. */
const MAX_METADATA_BYTES = 2048;
/** SigV4 presigned URLs live at most 7 days. */
export const MAX_PRESIGN_SECONDS = 604_800;

/** Checks everything about upload options that can be checked before a byte moves. */
export function assertValidUploadOptions(options: UploadOptions): void {
  const { metadata, sizeEstimate, contentType } = options;
  if (sizeEstimate !== undefined && (!Number.isFinite(sizeEstimate) || sizeEstimate < 0)) {
    throw storageFailed('invalid_config', `sizeEstimate must be a non-negative number of bytes, not ${sizeEstimate}`);
  }
  if (contentType !== undefined && !/^[\w.+-]+\/[\w.+-]+$/.test(contentType)) {
    throw storageFailed('invalid_config', `contentType ${JSON.stringify(contentType)} is not a plain media type`);
  }
  let total = 0;
  for (const [name, value] of Object.entries(metadata ?? {})) {
    if (!METADATA_KEY.test(name)) {
      throw storageFailed(
        'invalid_config',
        `metadata name ${JSON.stringify(name)} must be lower-case letters, digits and "-"`,
      );
    }
    if (typeof value !== 'string' || !PRINTABLE_ASCII.test(value)) {
      throw storageFailed('invalid_config', `metadata "${name}" must be printable ASCII`);
    }
    total += name.length + value.length;
  }
  if (total > MAX_METADATA_BYTES)
    throw storageFailed('invalid_config', `metadata is larger than ${MAX_METADATA_BYTES} bytes`);
}

/** Checks a read range; both ends are inclusive byte offsets. */
export function assertValidRange(options: ReadOptions): void {
  const { start, end } = options;
  for (const [name, value] of [
    ['start', start],
    ['end', end],
  ] as const) {
    if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
      throw storageFailed('invalid_range', `${name} must be a non-negative integer, not ${value}`);
    }
  }
  if (start !== undefined && end !== undefined && end < start) {
    throw storageFailed('invalid_range', `end (${end}) is before start (${start})`);
  }
}

export function assertValidExpiry(seconds: number): void {
  if (!Number.isInteger(seconds) || seconds < 1 || seconds > MAX_PRESIGN_SECONDS) {
    throw storageFailed(
      'invalid_config',
      `expiresInSeconds must be an integer from 1 to ${MAX_PRESIGN_SECONDS}, not ${seconds}`,
    );
  }
}

/**
 * `attachment; filename="…"; filename*=UTF-8''…` (RFC 6266): a plain ASCII fallback with quotes,
 * backslashes, slashes and control characters removed, and the exact name percent-encoded.
 */
export function attachmentDisposition(filename: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what this removes
  const cleaned = filename.replace(/[\u0000-\u001f\u007f/\\]/g, '').trim();
  if (cleaned === '' || cleaned === '.' || cleaned === '..') {
    throw storageFailed(
      'invalid_config',
      `filename ${JSON.stringify(filename)} is empty once unsafe characters are removed`,
    );
  }
  const ascii = cleaned.replace(/[^\x20-\x7e]/g, '_').replace(/["%;]/g, '_');
  const encoded = encodeURIComponent(cleaned).replace(
    /['()*]/g,
    (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase(),
  );
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** The error an aborted upload or read rejects with. */
export function abortedError(signal: AbortSignal, what: string): BackupFailure {
  return storageFailed('aborted', `${what} was cancelled`, { cause: signal.reason });
}

/**
 * Waits for `promise`, but no longer than `signal` allows. Used for `sourceDone`, which a broken
 * producer might never settle.
 */
export function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
