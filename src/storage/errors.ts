import {
  BackupFailure,
  isBackupFailure,
  type StorageFailureCode,
  type StorageFailureKind,
} from '../shared/backup-failure.ts';

export type { StorageFailureCode };

const NOT_RETRYABLE: ReadonlySet<StorageFailureCode> = new Set([
  'invalid_key',
  'invalid_config',
  'too_large',
  'encryption_not_honoured',
  'invalid_range',
]);

const PREFIX = 'storage_';

export interface StorageFailureOptions {
  cause?: unknown;
  /** Set when removing what a failed upload wrote did not work; the janitor will find it later. */
  cleanupError?: unknown;
}

/**
 * The one kind of failure the storage layer throws: a BackupFailure of kind `storage_<code>`, retryable
 * unless the code says trying again cannot help. Messages never carry credentials or presigned URLs.
 */
export function storageFailed(
  code: StorageFailureCode,
  message: string,
  options: StorageFailureOptions = {},
): BackupFailure {
  const suffix =
    options.cleanupError === undefined
      ? ''
      : ` (cleanup also failed: ${describe(options.cleanupError)}; the janitor will remove what is left)`;
  return new BackupFailure(`${PREFIX}${code}`, message + suffix, {
    retryable: !NOT_RETRYABLE.has(code),
    ...(options.cause === undefined ? {} : { cause: options.cause }),
    ...(options.cleanupError === undefined ? {} : { detail: { cleanupError: options.cleanupError } }),
  });
}

/** True for a storage failure, and when codes are given, for one of those codes. */
export function isStorageFailure(
  error: unknown,
  ...codes: StorageFailureCode[]
): error is BackupFailure & { kind: StorageFailureKind } {
  if (!isBackupFailure(error) || !error.kind.startsWith(PREFIX)) return false;
  return codes.length === 0 || codes.includes(storageCode(error as BackupFailure & { kind: StorageFailureKind }));
}

/** The storage code of a storage failure (`not_found` for `storage_not_found`). */
export function storageCode(failure: BackupFailure & { kind: StorageFailureKind }): StorageFailureCode {
  return failure.kind.slice(PREFIX.length) as StorageFailureCode;
}

/** Keeps a storage failure as it is and wraps anything else with the given code. */
export function asStorageFailure(error: unknown, code: StorageFailureCode, message: string): BackupFailure {
  if (isStorageFailure(error)) return error;
  return storageFailed(code, `${message}: ${describe(error)}`, { cause: error });
}

/** Copies a storage failure with a cleanup failure attached. */
export function withCleanupError(error: BackupFailure, cleanupError: unknown): BackupFailure {
  return storageFailed(isStorageFailure(error) ? storageCode(error) : 'store_failed', error.message, {
    cause: error.cause ?? undefined,
    cleanupError,
  });
}

/** A short, single-line description of any thrown value. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code)
      ? `${error.name}: ${error.message} (${code})`
      : `${error.name}: ${error.message}`;
  }
  return String(error);
}
