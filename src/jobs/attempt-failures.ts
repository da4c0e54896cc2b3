import { BackupFailure } from '../shared/backup-failure.ts';

/** The add-on was removed while its backup waited or ran: nothing left to back up for. */
export function deprovisioned(): BackupFailure {
  return new BackupFailure('deprovisioned', 'the add-on was removed', { retryable: false });
}

/** A newer attempt owns the backup now; this one must stop and leave no trace. */
export function superseded(): BackupFailure {
  return new BackupFailure('superseded', 'a newer attempt took over this backup', { retryable: false });
}

/** The customer asked to cancel the backup. */
export function cancelRequested(): BackupFailure {
  return new BackupFailure('canceled', 'canceled on request', { retryable: false });
}

/** The worker stopped this attempt (shutdown, or pg-boss found its claim gone): another attempt may finish. */
export function interrupted(): BackupFailure {
  return new BackupFailure(
    'interrupted',
    'the worker stopped this attempt (a restart or deploy); it will be tried again',
    { retryable: true },
  );
}

/** The attempt reached the plan's time limit: another attempt would only reach it again. */
export function timedOut(expireInSeconds: number): BackupFailure {
  const hours = expireInSeconds / 3600;
  const limit = hours >= 1 ? `${Math.round(hours)} hours` : `${Math.round(expireInSeconds)} seconds`;
  return new BackupFailure(
    'timed_out',
    `the backup did not finish within the plan's limit of ${limit} and was stopped`,
    { retryable: false },
  );
}
