import type { BackupFailure } from '../../shared/backup-failure.ts';

/** Failure messages are written to be safe to show; strip anything URL-like anyway (as run-backup does). */
export function sanitizeFailure(failure: BackupFailure): string {
  return failure.message
    .replace(/postgres(ql)?:\/\/\S+/g, '[database URL]')
    .replace(/X-Amz-[A-Za-z-]+=[^&\s]+/g, '[signature]')
    .slice(0, 1000);
}
