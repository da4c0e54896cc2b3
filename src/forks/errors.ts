import { BackupFailure, type SourceFailureKind } from '../shared/backup-failure.ts';

/**
 * Resolving the database of a run failed. The kind is stored as the backup's failure kind; the message
 * is written to be shown to the customer and never holds a credential. `retryable` tells the job
 * whether another attempt could succeed.
 */
export function sourceFailed(
  kind: SourceFailureKind,
  message: string,
  retryable: boolean,
  options?: { cause?: unknown },
): BackupFailure {
  return new BackupFailure(kind, message, {
    retryable,
    ...(options?.cause === undefined ? {} : { cause: options.cause }),
  });
}
