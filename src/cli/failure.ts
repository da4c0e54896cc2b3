import { isDumpFailure, isReadBackFailure, isVerificationFailure } from '../engine/index.ts';
import { redact } from '../shared/redact.ts';
import { isStorageFailure, storageCode } from '../storage/errors.ts';
import { UsageError } from './args.ts';

/** Exit statuses; an interrupted run exits 128 + the signal's number, as a shell reports it. */
export const EXIT = { verified: 0, failed: 1, usage: 2 } as const;

/** A failure as the command prints it: one line, a hint, and the exit status. */
export interface Failure {
  /** Stable, for `--json` readers: `usage`, a dump failure's kind or a storage failure's code, `verification_failed`, … */
  code: string;
  message: string;
  hint: string | null;
  exitCode: number;
}

/** Thrown by the commands for a failure they describe themselves. */
export class CliFailure extends Error {
  override readonly name = 'CliFailure';
  readonly code: string;
  readonly hint: string | null;

  constructor(code: string, message: string, hint: string | null = null) {
    super(message);
    this.code = code;
    this.hint = hint;
  }
}

const DUMP_HINTS: Record<string, string> = {
  connection_failed:
    'check the host, port, user, password and database name in the URL, and that this machine may connect to the server',
  invalid_source: 'expected postgres://user:password@host:port/database (or env:NAME naming a variable that holds one)',
  source_not_allowed: 'big-backup never connects to link-local, multicast, unspecified or reserved addresses',
  dump_failed: 'run again with --verbose to see the whole pg_dump log',
  stalled: 'another session may hold a lock on that table, or the network stalled; --stall-timeout changes the limit',
};

const STORAGE_HINTS: Record<string, string> = {
  invalid_config:
    'expected s3://bucket/prefix (credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY) or file:///absolute/path',
  invalid_key: 'keys are /-separated names of letters, digits and . _ = + @ -, each starting with a letter or digit',
  store_failed:
    'check the storage URL; for s3:// the AWS_* credentials and region, and that the bucket exists and allows writes; for file:// that the folder is writable and has room',
  not_found: 'check --from and --key against what "big-backup capture" printed',
};

/**
 * Describes any thrown value for the user. `secrets` are removed from the text (the message of an
 * error we did not write may quote a connection string), and the text is kept to one line.
 */
export function describeFailure(error: unknown, secrets: readonly string[], context: { capture: boolean }): Failure {
  const make = (code: string, message: string, hint: string | null, exitCode: number = EXIT.failed): Failure => ({
    code,
    message: oneLine(redact(message, secrets)),
    hint: hint === null ? null : oneLine(redact(hint, secrets)),
    exitCode,
  });
  if (error instanceof UsageError) {
    return make(
      'usage',
      error.message,
      `run "big-backup ${error.command ? error.command + ' ' : ''}--help" for the options`,
      EXIT.usage,
    );
  }
  if (error instanceof CliFailure) return make(error.code, error.message, error.hint);
  if (isDumpFailure(error)) {
    const exitCode = error.kind === 'invalid_source' ? EXIT.usage : EXIT.failed;
    return make(error.kind, error.message, DUMP_HINTS[error.kind] ?? null, exitCode);
  }
  if (isStorageFailure(error)) {
    const code = storageCode(error);
    const exitCode = code === 'invalid_config' || code === 'invalid_key' ? EXIT.usage : EXIT.failed;
    return make(code, error.message, STORAGE_HINTS[code] ?? null, exitCode);
  }
  if (isReadBackFailure(error) && !context.capture) {
    // The store did not answer: nothing was learnt about the archive either way.
    return make(
      'read_failed',
      error.message,
      'the store could not be read, which says nothing about the archive; run verify again',
    );
  }
  if (isVerificationFailure(error)) {
    const hint = context.capture
      ? 'the archive was removed from storage, so no unverified copy is left; run the capture again'
      : 'the stored archive is not the one that was written: do not restore from it';
    return make('verification_failed', `verification failed: ${error.message}`, hint);
  }
  return make('internal', error instanceof Error ? error.message : String(error), null);
}

/** Collapses line breaks so a failure stays on one line of a log. */
function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, ' ').trim();
}
