import { describeFailure, type Failure } from './failure.ts';
import type { ProgressStream, Reporter } from './reporter.ts';
import { failureResult, type ArchiveLocation } from './result.ts';

/** What a command may touch of the process: given by the bin, so commands never read globals. */
export interface CliContext {
  /** The environment: `--source env:NAME`, the AWS_* variables and PG_BIN_DIR are read from it. */
  env: Readonly<Record<string, string | undefined>>;
  /** The result only (`--json` or the summary); never progress. */
  stdout: { write(text: string): unknown };
  /** Steps, progress and errors. */
  stderr: ProgressStream;
  /** Aborted with the signal's name (`SIGINT`, `SIGTERM`) when the user interrupts. */
  signal: AbortSignal;
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 };

/**
 * Prints a failure (one line and a hint on stderr; with `--json` also the failure object on stdout)
 * and returns the exit status. An interrupted run reports the interruption, not the error it caused.
 */
export function reportFailure(
  ctx: CliContext,
  reporter: Reporter,
  error: unknown,
  options: {
    json: boolean;
    secrets: readonly string[];
    where: ArchiveLocation | null;
    capture: boolean;
    interrupted: string;
  },
): number {
  const signal = ctx.signal.aborted ? String(ctx.signal.reason) : null;
  const failure: Failure =
    signal !== null
      ? {
          code: 'interrupted',
          message: `interrupted by ${signal}: ${options.interrupted}`,
          hint: null,
          exitCode: 128 + (SIGNAL_NUMBERS[signal] ?? 0),
        }
      : describeFailure(error, options.secrets, { capture: options.capture });
  reporter.clear();
  ctx.stderr.write(`big-backup: error: ${failure.message}\n`);
  if (failure.hint) ctx.stderr.write(`hint: ${failure.hint}\n`);
  if (options.json) ctx.stdout.write(JSON.stringify(failureResult(failure, options.where)) + '\n');
  return failure.exitCode;
}
