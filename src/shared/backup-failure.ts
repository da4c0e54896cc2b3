/**
 * Every way a backup attempt can fail, as the kind stored in `backups.failure_kind` and shown by the
 * API and the dashboard. The strings are persisted: never rename one.
 */
export type FailureKind =
  | DumpFailureKind
  | StorageFailureKind
  | SourceFailureKind
  | AttemptFailureKind
  | PlanFailureKind
  | 'verification_failed'
  /** Anything no layer described: a bug or an unexpected fault, detail in the cause only. */
  | 'internal';

/** The pg_dump runner's failures (src/engine/dump-failures.ts). */
export type DumpFailureKind =
  | 'version_mismatch'
  | 'pg_dump_missing'
  | 'invalid_source'
  /** The host is, or resolves to, an address big-backup never connects to (loopback, private, link-local...). */
  | 'source_not_allowed'
  | 'connection_failed'
  | 'dump_failed'
  | 'canceled'
  | 'stalled'
  | 'too_slow';

/** Why a storage operation failed (src/storage/errors.ts); stored with a `storage_` prefix. */
export type StorageFailureCode =
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

export type StorageFailureKind = `storage_${StorageFailureCode}`;

/** Resolving the database of a run: the Heroku connection, the fork (src/forks/errors.ts). */
export type SourceFailureKind =
  | 'no_source'
  | 'not_configured'
  | 'not_connected'
  | 'reconnect_needed'
  | 'source_missing'
  | 'no_scratch_app'
  | 'not_forkable'
  | 'fork_cleanup'
  | 'fork_timeout'
  | 'fork_lost'
  /** A sharded backup's static source was changed or removed while its pieces ran (issue 14). */
  | 'source_changed'
  | 'superseded'
  | 'heroku_rate_limited'
  | 'heroku_not_found'
  | 'heroku_refused'
  | 'heroku_forbidden'
  | 'heroku_api';

/** How the job ended an attempt from outside the work itself (src/jobs/attempt-failures.ts). */
export type AttemptFailureKind = 'deprovisioned' | 'timed_out' | 'interrupted' | 'superseded' | 'canceled';

/** A plan's limit stopped the backup (src/jobs/plan-limit-failures.ts). */
export type PlanFailureKind = 'too_large';

/** Technical facts kept for logs and for the code that handles a failure; never shown as such. */
export interface FailureDetail {
  /** pg_dump's exit status and signal. */
  exitCode?: number | null;
  signal?: string | null;
  /** The last lines pg_dump wrote to stderr, redacted. */
  stderrTail?: readonly string[];
  /** Removing what a failed upload wrote did not work either; the janitor will find it later. */
  cleanupError?: unknown;
  /** Verification could not read the stored object back: that says nothing about the archive. */
  readBack?: boolean;
  /** The sharded capture's piece (its `no`) that is missing or not what its record says. */
  pieceNo?: number;
}

export interface BackupFailureOptions {
  retryable: boolean;
  cause?: unknown;
  detail?: FailureDetail;
}

/**
 * The one error type of a failed backup. `message` is written for the customer (it is stored as the
 * failure reason and shown on the backup's page and in the API) and never holds a credential or an
 * internal detail; the technical detail is the `cause` (and `detail`), which only logs see. Build it
 * with the factories of the layer that failed, never with `new` elsewhere.
 */
export class BackupFailure extends Error {
  override readonly name = 'BackupFailure';
  readonly kind: FailureKind;
  /** Whether another attempt of the same backup may succeed. */
  readonly retryable: boolean;
  readonly detail: Readonly<FailureDetail>;

  constructor(kind: FailureKind, message: string, options: BackupFailureOptions) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.kind = kind;
    this.retryable = options.retryable;
    this.detail = options.detail ?? {};
  }
}

/** True for a BackupFailure, and when kinds are given, for one of those kinds. */
export function isBackupFailure<K extends FailureKind>(
  error: unknown,
  ...kinds: K[]
): error is BackupFailure & { kind: K } {
  return error instanceof BackupFailure && (kinds.length === 0 || (kinds as FailureKind[]).includes(error.kind));
}

/** The message of an `internal` failure: what went wrong is for our logs, not for the customer. */
export const INTERNAL_FAILURE_MESSAGE = 'an unexpected error stopped this attempt';

/**
 * Any thrown value as a BackupFailure: a BackupFailure stays as it is; anything else no layer
 * described becomes an `internal` failure, retryable (a fault that may not happen again), with the
 * thrown value as its cause.
 */
export function toBackupFailure(error: unknown): BackupFailure {
  if (error instanceof BackupFailure) return error;
  return new BackupFailure('internal', INTERNAL_FAILURE_MESSAGE, { retryable: true, cause: error });
}
