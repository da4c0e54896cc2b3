import { BackupFailure, isBackupFailure, type DumpFailureKind, type FailureDetail } from '../shared/backup-failure.ts';

/**
 * The dump's failures, as BackupFailures of these kinds:
 * - `version_mismatch`, `pg_dump_missing`, `invalid_source`, `source_not_allowed`: a retry cannot help;
 * - `connection_failed`: retryable unless the server rejected the credentials or the database name;
 * - `dump_failed`: pg_dump exited non-zero or was killed by someone else (retryable);
 * - `canceled`: we were asked to stop (not a failure to retry);
 * - `stalled`: the watchdog saw no bytes for too long and killed pg_dump (retryable).
 * Every message is free of secrets.
 */
const DUMP_KINDS: ReadonlySet<DumpFailureKind> = new Set([
  'version_mismatch',
  'pg_dump_missing',
  'invalid_source',
  'source_not_allowed',
  'connection_failed',
  'dump_failed',
  'canceled',
  'stalled',
]);

/** True for failures raised by the dump runner. */
export function isDumpFailure(error: unknown): error is BackupFailure & { kind: DumpFailureKind } {
  return isBackupFailure(error) && DUMP_KINDS.has(error.kind as DumpFailureKind);
}

/** No pg_dump here is new enough for the server. */
export function versionMismatch(serverMajor: number, newest: { major: number; path: string }): BackupFailure {
  return new BackupFailure(
    'version_mismatch',
    `the database runs PostgreSQL ${serverMajor} but the newest pg_dump here is ${newest.major} (${newest.path}); ` +
      `install postgresql-client-${serverMajor} or set PG_BIN_DIR to a folder holding pg_dump and pg_restore ${serverMajor} or later`,
    { retryable: false },
  );
}

/** pg_dump itself refused the server's version (its exit said so). */
export function versionRefused(message: string, detail: FailureDetail): BackupFailure {
  return new BackupFailure('version_mismatch', message, { retryable: false, detail });
}

/** No pg_dump was found at all. */
export function pgDumpMissing(serverMajor: number, searched: readonly string[]): BackupFailure {
  return new BackupFailure(
    'pg_dump_missing',
    `the database runs PostgreSQL ${serverMajor} but no pg_dump with a pg_restore beside it was found in ${searched.join(', ') || 'no folder'}; ` +
      `install postgresql-client-${serverMajor} or set PG_BIN_DIR`,
    { retryable: false },
  );
}

/** The source could not be turned into connection parameters. */
export function invalidSource(reason: string): BackupFailure {
  return new BackupFailure('invalid_source', `the database URL is not usable: ${reason}`, { retryable: false });
}

/**
 * The host is, or resolves to, an address the host policy refuses. The message is the same for every
 * such address and names none of them: which private address a name resolves to is our network's map.
 */
export function sourceNotAllowed(cause: unknown): BackupFailure {
  return new BackupFailure(
    'source_not_allowed',
    'the database host is not allowed: big-backup connects only to databases on the public internet, ' +
      'never to loopback, private, link-local, multicast or other reserved addresses',
    { retryable: false, cause },
  );
}

/**
 * The server could not be reached or refused us; `retryable` is false when it rejected the credentials
 * or database. `cause` is the driver's error, for logs and for `connectProblem`.
 */
export function connectionFailed(
  message: string,
  retryable: boolean,
  detail?: FailureDetail,
  cause?: unknown,
): BackupFailure {
  return new BackupFailure('connection_failed', message, {
    retryable,
    ...(detail ? { detail } : {}),
    ...(cause === undefined ? {} : { cause }),
  });
}

/** pg_dump failed, could not start, or its stream broke. */
export function dumpFailed(
  message: string,
  options: { retryable: boolean; cause?: unknown; detail?: FailureDetail },
): BackupFailure {
  return new BackupFailure('dump_failed', message, options);
}

/** The dump was canceled by its caller or because its consumer went away. */
export function canceled(reason = 'the backup was canceled'): BackupFailure {
  return new BackupFailure('canceled', reason, { retryable: false });
}

/**
 * The watchdog saw no bytes for `stallMs`. `blocked` says which end stopped moving: pg_dump itself (a
 * lock, a dead connection), or what takes the archive (storage or the read-through), with pg_dump
 * waiting to write.
 */
export function stalled(
  stallMs: number,
  currentTable: string | null,
  blocked: 'pg_dump' | 'storage' = 'pg_dump',
): BackupFailure {
  const where = currentTable ? ` while dumping ${currentTable}` : '';
  const seconds = Math.round(stallMs / 1000);
  const message =
    blocked === 'storage'
      ? `storage took no archive bytes for ${seconds} s${where}; the backup was stopped`
      : `pg_dump produced no output for ${seconds} s${where} and was stopped`;
  return new BackupFailure('stalled', message, { retryable: true });
}
