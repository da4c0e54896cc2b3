import type { BackupFailure } from '../shared/backup-failure.ts';
import { interrupted } from './attempt-failures.ts';
import type { JobContext } from './deps.ts';

/** What stops a running attempt's work, and with which failure (the signal's reason). */
export interface AttemptStop {
  readonly signal: AbortSignal;
  /** Stops the work with `reason`; the first reason given wins. */
  readonly stop: (reason: BackupFailure) => void;
  /** Stops watching (the job's signal and the poll); call it when the work is over. */
  readonly dispose: () => void;
}

/**
 * Watches for what must stop an attempt's work: pg-boss aborting the job (shutdown, a lost claim:
 * `interrupted`), and every `everyMs` a look at the database (`check`; the web process sets a cancel
 * as a row flag), which names the failure to stop with, or null to go on. A check that fails is tried
 * again at the next tick.
 */
export function watchAttempt(
  job: Pick<JobContext, 'signal'>,
  poll: { everyMs: number; check: () => Promise<BackupFailure | null> },
): AttemptStop {
  const controller = new AbortController();
  const stop = (reason: BackupFailure) => {
    if (!controller.signal.aborted) controller.abort(reason);
  };
  const onJobAbort = () => stop(interrupted());
  job.signal.addEventListener('abort', onJobAbort, { once: true });
  const watcher = setInterval(() => {
    poll.check().then(
      (reason) => {
        if (reason) stop(reason);
      },
      () => {},
    );
  }, poll.everyMs);
  return {
    signal: controller.signal,
    stop,
    dispose: () => {
      clearInterval(watcher);
      job.signal.removeEventListener('abort', onJobAbort);
    },
  };
}
