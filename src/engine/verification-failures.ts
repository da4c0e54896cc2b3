import { BackupFailure, isBackupFailure } from '../shared/backup-failure.ts';

/** The stored archive is not the one that was written, or not a readable archive. */
export function verificationFailed(message: string, cause?: unknown): BackupFailure {
  return new BackupFailure('verification_failed', message, {
    retryable: true,
    ...(cause === undefined ? {} : { cause }),
  });
}

/** A piece of a sharded capture is not what its record says (missing, another size, another digest): dump it again. */
export function pieceFailed(pieceNo: number, message: string, cause?: unknown): BackupFailure {
  return new BackupFailure('verification_failed', message, {
    retryable: true,
    detail: { pieceNo },
    ...(cause === undefined ? {} : { cause }),
  });
}

/** Reading the object back failed (the store or the connection), which says nothing about the archive: worth another read. */
export function readBackFailed(error: unknown): BackupFailure {
  return new BackupFailure('verification_failed', `reading the archive back failed: ${(error as Error).message}`, {
    retryable: true,
    cause: error,
    detail: { readBack: true },
  });
}

/** True for any verification failure, a failed read-back included. */
export function isVerificationFailure(error: unknown): error is BackupFailure & { kind: 'verification_failed' } {
  return isBackupFailure(error, 'verification_failed');
}

/** True when verification could not read the stored object back (rather than finding it wrong). */
export function isReadBackFailure(error: unknown): error is BackupFailure & { kind: 'verification_failed' } {
  return isVerificationFailure(error) && error.detail.readBack === true;
}
