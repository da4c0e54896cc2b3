import test from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import {
  BackupFailure,
  INTERNAL_FAILURE_MESSAGE,
  isBackupFailure,
  toBackupFailure,
  type FailureKind,
  type StorageFailureCode,
} from '../../src/shared/backup-failure.ts';
import {
  canceled,
  connectionFailed,
  dumpFailed,
  invalidSource,
  isDumpFailure,
  pgDumpMissing,
  stalled,
  versionMismatch,
  versionRefused,
} from '../../src/engine/dump-failures.ts';
import {
  isReadBackFailure,
  isVerificationFailure,
  readBackFailed,
  verificationFailed,
} from '../../src/engine/verification-failures.ts';
import {
  asStorageFailure,
  isStorageFailure,
  storageCode,
  storageFailed,
  withCleanupError,
} from '../../src/storage/errors.ts';
import { sourceFailed } from '../../src/forks/errors.ts';
import { cancelRequested, deprovisioned, interrupted, superseded, timedOut } from '../../src/jobs/attempt-failures.ts';
import { createLogger } from '../../src/logger.ts';

function expectFailure(failure: BackupFailure, kind: FailureKind, retryable: boolean): void {
  assert.ok(failure instanceof BackupFailure, String(failure));
  assert.equal(failure.kind, kind);
  assert.equal(failure.retryable, retryable, `${kind} retryable`);
  assert.ok(failure.message.length > 0, `${kind} has a message`);
}

test('the dump factories give each dump failure its stored kind and retry decision', () => {
  expectFailure(versionMismatch(17, { major: 15, path: '/usr/bin/pg_dump' }), 'version_mismatch', false);
  expectFailure(
    versionRefused('pg_dump: error: aborting because of server version mismatch', { exitCode: 1 }),
    'version_mismatch',
    false,
  );
  expectFailure(pgDumpMissing(17, []), 'pg_dump_missing', false);
  expectFailure(invalidSource('no host'), 'invalid_source', false);
  expectFailure(connectionFailed('could not connect', true), 'connection_failed', true);
  expectFailure(connectionFailed('password authentication failed', false), 'connection_failed', false);
  expectFailure(
    dumpFailed('pg_dump exited with code 1', { retryable: true, detail: { exitCode: 1, stderrTail: ['x'] } }),
    'dump_failed',
    true,
  );
  expectFailure(canceled(), 'canceled', false);
  expectFailure(stalled(30_000, 'public.orders'), 'stalled', true);
  assert.equal(
    stalled(30_000, 'public.orders', 'storage').message,
    'storage took no archive bytes for 30 s while dumping public.orders; the backup was stopped',
  );
  assert.deepEqual(dumpFailed('x', { retryable: true, detail: { exitCode: 1 } }).detail, { exitCode: 1 });
  assert.ok(isDumpFailure(stalled(1000, null)));
  assert.ok(!isDumpFailure(verificationFailed('bad')), "a verification failure is not the dump's");
});

test('verification failures are retryable, and a failed read-back is told apart from a wrong archive', () => {
  const wrong = verificationFailed('the digest does not match');
  expectFailure(wrong, 'verification_failed', true);
  assert.ok(isVerificationFailure(wrong));
  assert.ok(!isReadBackFailure(wrong));
  const cause = new Error('socket hang up');
  const readBack = readBackFailed(cause);
  expectFailure(readBack, 'verification_failed', true);
  assert.ok(isReadBackFailure(readBack));
  assert.equal(readBack.message, 'reading the archive back failed: socket hang up');
  assert.equal(readBack.cause, cause);
});

test('storage failures are stored as storage_<code>, retryable unless trying again cannot help', () => {
  const notRetryable: StorageFailureCode[] = [
    'invalid_key',
    'invalid_config',
    'too_large',
    'encryption_not_honoured',
    'invalid_range',
  ];
  const retryable: StorageFailureCode[] = [
    'not_found',
    'aborted',
    'source_failed',
    'size_mismatch',
    'missing_after_complete',
    'store_failed',
  ];
  for (const code of [...notRetryable, ...retryable]) {
    const failure = storageFailed(code, 'it failed');
    expectFailure(failure, `storage_${code}`, retryable.includes(code));
    assert.ok(isStorageFailure(failure, code));
    assert.equal(storageCode(failure), code);
  }
  assert.ok(!isStorageFailure(dumpFailed('x', { retryable: true })));
  // A storage failure is kept; anything else (a dump failure too) is wrapped with the given code.
  const kept = storageFailed('too_large', 'too big');
  assert.equal(asStorageFailure(kept, 'store_failed', 'upload'), kept);
  const wrapped = asStorageFailure(canceled('stopped'), 'source_failed', 'the source stream failed');
  assert.equal(wrapped.kind, 'storage_source_failed');
  assert.equal(wrapped.message, 'the source stream failed: BackupFailure: stopped');
  const cleanup = withCleanupError(wrapped, new Error('EACCES'));
  assert.equal(cleanup.kind, 'storage_source_failed');
  assert.match(cleanup.message, /\(cleanup also failed: Error: EACCES; the janitor will remove what is left\)$/);
  assert.ok(cleanup.detail.cleanupError instanceof Error);
});

test('source and attempt factories carry the kinds the job stores', () => {
  expectFailure(sourceFailed('heroku_api', 'Heroku answered 503', true), 'heroku_api', true);
  expectFailure(sourceFailed('not_forkable', 'a fork is needed', false), 'not_forkable', false);
  expectFailure(deprovisioned(), 'deprovisioned', false);
  expectFailure(superseded(), 'superseded', false);
  expectFailure(cancelRequested(), 'canceled', false);
  expectFailure(interrupted(), 'interrupted', true);
  expectFailure(timedOut(4), 'timed_out', false);
  assert.equal(timedOut(4).message, "the backup did not finish within the plan's limit of 4 seconds and was stopped");
  assert.equal(
    timedOut(6 * 3600).message,
    "the backup did not finish within the plan's limit of 6 hours and was stopped",
  );
});

test('anything no layer described is a retryable internal failure whose message says nothing of it', () => {
  const bug = new TypeError("cannot read properties of undefined (reading 'password')");
  const failure = toBackupFailure(bug);
  expectFailure(failure, 'internal', true);
  assert.equal(failure.message, INTERNAL_FAILURE_MESSAGE);
  assert.equal(failure.cause, bug);
  expectFailure(toBackupFailure('a string was thrown'), 'internal', true);
  const described = stalled(1000, null);
  assert.equal(toBackupFailure(described), described, 'a described failure stays as it is');
  assert.ok(isBackupFailure(described, 'stalled', 'dump_failed'));
  assert.ok(!isBackupFailure(described, 'dump_failed'));
  assert.ok(!isBackupFailure(new Error('x')));
});

test("the log keeps a failure's type, kind, stack and cause", () => {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  const logger = createLogger({ destination });
  logger.warn(
    { err: toBackupFailure(new Error('the real reason', { cause: new Error('deeper') })) },
    'backup attempt failed',
  );
  const entry = JSON.parse(lines[0]!) as {
    err: { type: string; kind: string; retryable: boolean; message: string; stack: string };
  };
  assert.equal(entry.err.type, 'BackupFailure');
  assert.equal(entry.err.kind, 'internal');
  assert.equal(entry.err.retryable, true);
  assert.match(entry.err.stack, /^BackupFailure: an unexpected error stopped this attempt\n\s+at /);
  assert.match(entry.err.stack, /caused by: Error: the real reason\n\s+at [^]*caused by: Error: deeper/);
});
