/**
 * Why a storage operation failed. The backup engine maps these to a backup's failure reason and to
 * pg-boss's retry decision, so each code says whether trying again can help.
 */
export type StorageErrorCode =
  /** A key or prefix that could escape its folder or is otherwise not allowed. */
  | 'invalid_key'
  /** A storage URL, option or argument that can never work. */
  | 'invalid_config'
  | 'not_found'
  | 'invalid_range'
  /** The stream is, or would become, larger than the part plan allows. */
  | 'too_large'
  /** The caller's signal fired. */
  | 'aborted'
  /** The body stream failed, closed early, or the producer reported failure (`sourceDone`). */
  | 'source_failed'
  /** The store holds a different number of bytes than were read from the body. */
  | 'size_mismatch'
  /** The store said the upload completed, yet no object is there. */
  | 'missing_after_complete'
  /** Server-side encryption was requested and the store did not confirm it. */
  | 'encryption_not_honoured'
  /** The store (network, S3, disk) failed, after the SDK's own retries where there are any. */
  | 'store_failed';

const NOT_RETRYABLE: ReadonlySet<StorageErrorCode> = new Set([
  'invalid_key', 'invalid_config', 'too_large', 'encryption_not_honoured', 'invalid_range',
]);

export interface StorageErrorOptions {
  cause?: unknown;
  /** Set when removing what a failed upload wrote did not work; the janitor will find it later. */
  cleanupError?: unknown;
}

/** The one error type the storage layer throws. Messages never carry credentials or presigned URLs. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;
  /** Whether running the same operation again may succeed. */
  readonly retryable: boolean;
  readonly cleanupError: unknown;

  constructor(code: StorageErrorCode, message: string, options: StorageErrorOptions = {}) {
    const suffix = options.cleanupError === undefined ? '' : ` (cleanup also failed: ${describe(options.cleanupError)}; the janitor will remove what is left)`;
    super(message + suffix, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.retryable = !NOT_RETRYABLE.has(code);
    this.cleanupError = options.cleanupError;
  }
}

/** Keeps a StorageError as it is and wraps anything else with the given code. */
export function asStorageError(error: unknown, code: StorageErrorCode, message: string): StorageError {
  if (error instanceof StorageError) return error;
  return new StorageError(code, `${message}: ${describe(error)}`, { cause: error });
}

/** Copies a StorageError with a cleanup failure attached. */
export function withCleanupError(error: StorageError, cleanupError: unknown): StorageError {
  const message = error.message;
  return new StorageError(error.code, message, { cause: error.cause ?? undefined, cleanupError });
}

/** A short, single-line description of any thrown value. */
export function describe(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'string' && !error.message.includes(code) ? `${error.name}: ${error.message} (${code})` : `${error.name}: ${error.message}`;
  }
  return String(error);
}
