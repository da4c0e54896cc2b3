import { parseCommandLine, type Invocation } from './args.ts';
import type { CliContext } from './context.ts';
import { describeFailure } from './failure.ts';
import { failureResult } from './result.ts';
import { CAPTURE_USAGE, MAIN_USAGE, VERIFY_USAGE } from './usage.ts';

/** The process streams and environment the bin hands over. */
export type CliIo = Omit<CliContext, 'signal'>;

const HELP = { main: MAIN_USAGE, capture: CAPTURE_USAGE, verify: VERIFY_USAGE } as const;

/**
 * Runs one invocation and returns its exit status. SIGINT and SIGTERM cancel the run (pg_dump is
 * killed and the upload removed by the engine); a second signal exits at once.
 */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let invocation: Invocation;
  try {
    invocation = parseCommandLine(argv);
  } catch (error) {
    const failure = describeFailure(error, [], { capture: false });
    io.stderr.write(`big-backup: error: ${failure.message}\n${failure.hint ? `hint: ${failure.hint}\n` : ''}`);
    // A script that asked for JSON reads stdout even when the command line was wrong.
    if (asksForJson(argv)) io.stdout.write(JSON.stringify(failureResult(failure, null)) + '\n');
    return failure.exitCode;
  }
  if (invocation.command === 'help') {
    io.stdout.write(HELP[invocation.text]);
    return 0;
  }
  const controller = new AbortController();
  // On a terminal the bar (and the ^C the terminal echoed) is on the current line.
  const newLine = io.stderr.isTTY ? '\n' : '';
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      io.stderr.write(`${newLine}big-backup: ${signal} again: exiting without cleaning up\n`);
      process.exit(signal === 'SIGINT' ? 130 : 143);
    }
    io.stderr.write(
      `${newLine}big-backup: ${signal}: stopping pg_dump and removing the partial archive (again to exit at once)\n`,
    );
    controller.abort(signal);
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const ctx: CliContext = { ...io, signal: controller.signal };
    // Loaded only now, so --help and usage errors answer without loading the AWS SDK.
    if (invocation.command === 'capture')
      return await (await import('./capture-command.ts')).runCapture(invocation.args, ctx);
    return await (await import('./verify-command.ts')).runVerify(invocation.args, ctx);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** `--json` among the options (before any `--`), for a command line that could not be parsed. */
function asksForJson(argv: readonly string[]): boolean {
  const end = argv.indexOf('--');
  return (end === -1 ? argv : argv.slice(0, end)).includes('--json');
}
