import { storageFailed } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';

/**
 * Key rules, the same for every driver. A key is a `/`-separated path such as
 * `tenants/<resource-uuid>/<backup-id>/<attempt>.dump`. Each segment starts with a letter or digit
 * (so `.`, `..` and hidden names are impossible, and the file driver's `.…partial` temporary names
 * can never collide with a key) and uses a small safe alphabet that means the same thing on S3 and
 * on a POSIX filesystem.
 */
const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._=+@-]*$/;
/** S3 allows 1,024 bytes; the store's own prefix and the manifest suffix need room too. */
const MAX_KEY_BYTES = 900;
/** Filesystems allow 255 bytes per name; the file driver adds up to 46 for its temporary names. */
const MAX_SEGMENT_LENGTH = 200;

/** The sidecar that seals an object: `<key>.manifest.json` holds its size and SHA-256 (see manifest.ts). */
export const MANIFEST_SUFFIX = '.manifest.json';

/** Throws `invalid_key` unless `key` follows the key rules above. */
export function assertValidKey(key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw invalidKey(key, 'it is empty');
  if (key.startsWith('/')) throw invalidKey(key, 'it must not start with "/"');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw invalidKey(key, `it is longer than ${MAX_KEY_BYTES} bytes`);
  for (const segment of key.split('/')) checkSegment(key, segment);
  if (key.endsWith(MANIFEST_SUFFIX)) throw invalidKey(key, `"${MANIFEST_SUFFIX}" is reserved for manifests`);
}

/**
 * Throws `invalid_key` unless `prefix` is empty or a key prefix: segments follow the key rules,
 * except that the last one may be empty (a trailing `/`) or partial.
 */
export function assertValidPrefix(prefix: string): void {
  if (typeof prefix !== 'string') throw invalidKey(prefix, 'it is not a string');
  if (prefix === '') return;
  if (prefix.startsWith('/')) throw invalidKey(prefix, 'it must not start with "/"');
  if (Buffer.byteLength(prefix) > MAX_KEY_BYTES) throw invalidKey(prefix, `it is longer than ${MAX_KEY_BYTES} bytes`);
  const segments = prefix.split('/');
  const last = segments.pop() ?? '';
  for (const segment of segments) checkSegment(prefix, segment);
  if (last !== '') checkSegment(prefix, last);
}

/** Joins a store's root prefix (no slashes at either end, possibly empty) and a key or key prefix. */
export function joinKey(rootPrefix: string, key: string): string {
  return rootPrefix === '' ? key : `${rootPrefix}/${key}`;
}

function checkSegment(key: string, segment: string): void {
  if (segment === '') throw invalidKey(key, 'it has an empty segment ("//" or a trailing "/")');
  if (segment === '.' || segment === '..') throw invalidKey(key, `"${segment}" segments are not allowed`);
  if (segment.length > MAX_SEGMENT_LENGTH)
    throw invalidKey(key, `a segment is longer than ${MAX_SEGMENT_LENGTH} characters`);
  if (!SEGMENT.test(segment)) {
    throw invalidKey(
      key,
      'each segment must start with a letter or digit and use only letters, digits and . _ = + @ -',
    );
  }
}

function invalidKey(key: unknown, why: string): BackupFailure {
  const shown = typeof key === 'string' ? JSON.stringify(key.length > 120 ? key.slice(0, 120) + '…' : key) : typeof key;
  return storageFailed('invalid_key', `invalid storage key ${shown}: ${why}`);
}
