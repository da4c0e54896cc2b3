/**
 * What went wrong with a dump, as a stable code the job layer branches on:
 * - `version_mismatch`, `pg_dump_missing`, `invalid_source`: a retry cannot help;
 * - `connection_failed`: retryable unless the server rejected the credentials or the database name;
 * - `dump_failed`: pg_dump exited non-zero or was killed by someone else (retryable);
 * - `canceled`: we were asked to stop (not a failure to retry);
 * - `stalled`: the watchdog saw no bytes for too long and killed pg_dump (retryable).
 */
export type DumpErrorCode =
  | 'version_mismatch'
  | 'pg_dump_missing'
  | 'invalid_source'
  | 'connection_failed'
  | 'dump_failed'
  | 'canceled'
  | 'stalled';

/** Details a dump error may carry; every string in it is already free of secrets. */
export interface DumpErrorDetails {
  retryable: boolean;
  exitCode?: number | null;
  signal?: string | null;
  /** The last lines pg_dump wrote to stderr, redacted. */
  stderrTail?: readonly string[];
  cause?: unknown;
}

/** A dump failure whose message is safe to log and to show to the customer. */
export class DumpError extends Error {
  override readonly name = 'DumpError';
  readonly code: DumpErrorCode;
  readonly retryable: boolean;
  readonly exitCode: number | null;
  readonly signal: string | null;
  readonly stderrTail: readonly string[];

  constructor(code: DumpErrorCode, message: string, details: DumpErrorDetails) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.retryable = details.retryable;
    this.exitCode = details.exitCode ?? null;
    this.signal = details.signal ?? null;
    this.stderrTail = details.stderrTail ?? [];
  }
}

/** True for errors raised by the dump runner. */
export function isDumpError(error: unknown): error is DumpError {
  return error instanceof DumpError;
}

/** No pg_dump here is new enough for the server. */
export function versionMismatch(serverMajor: number, newest: { major: number; path: string }): DumpError {
  return new DumpError(
    'version_mismatch',
    `the database runs PostgreSQL ${serverMajor} but the newest pg_dump here is ${newest.major} (${newest.path}); ` +
      `install postgresql-client-${serverMajor} or set PG_BIN_DIR to a folder holding pg_dump and pg_restore ${serverMajor} or later`,
    { retryable: false },
  );
}

/** No pg_dump was found at all. */
export function pgDumpMissing(serverMajor: number, searched: readonly string[]): DumpError {
  return new DumpError(
    'pg_dump_missing',
    `the database runs PostgreSQL ${serverMajor} but no pg_dump with a pg_restore beside it was found in ${searched.join(', ') || 'no folder'}; ` +
      `install postgresql-client-${serverMajor} or set PG_BIN_DIR`,
    { retryable: false },
  );
}

/** The source could not be turned into connection parameters. */
export function invalidSource(reason: string): DumpError {
  return new DumpError('invalid_source', `the database URL is not usable: ${reason}`, { retryable: false });
}

/** The dump was canceled by its caller or because its consumer went away. */
export function canceled(reason = 'the backup was canceled'): DumpError {
  return new DumpError('canceled', reason, { retryable: false });
}

/** The watchdog saw no bytes for `stallMs`. */
/**
 * The watchdog's reason. `blocked` says which end stopped moving: pg_dump itself (a lock, a dead
 * connection), or what takes the archive (storage or the read-through), with pg_dump waiting to write.
 */
export function stalled(stallMs: number, currentTable: string | null, blocked: 'pg_dump' | 'storage' = 'pg_dump'): DumpError {
  const where = currentTable ? ` while dumping ${currentTable}` : '';
  const seconds = Math.round(stallMs / 1000);
  const message = blocked === 'storage'
    ? `storage took no archive bytes for ${seconds} s${where}; the backup was stopped`
    : `pg_dump produced no output for ${seconds} s${where} and was stopped`;
  return new DumpError('stalled', message, { retryable: true });
}
