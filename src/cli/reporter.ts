import { renderBar, renderLine, type ProgressState } from './progress-bar.ts';

/** The stream progress goes to (stderr); `isTTY` and `columns` are set when it is a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** How progress is shown: a redrawn bar on a terminal, occasional lines in a log, or nothing. */
export type ReporterMode = 'bar' | 'lines' | 'none';

/** Where the steps and progress of one run go. Never stdout: that is kept for `--json`. */
export interface Reporter {
  /** A step of the run, one line. */
  status(message: string): void;
  progress(state: ProgressState): void;
  /** Removes the bar, so an error or the result starts on a clean line. */
  clear(): void;
}

/** A bar only on a terminal and not with `--json` (whose reader is a program); nothing with `--quiet`. */
export function chooseMode(stream: ProgressStream, options: { json: boolean; quiet: boolean }): ReporterMode {
  if (options.quiet) return 'none';
  return stream.isTTY === true && !options.json ? 'bar' : 'lines';
}

const PREFIX = 'big-backup: ';
// A dyno's log should show that a long dump is alive, without a line per second for hours.
const DEFAULT_LINE_INTERVAL_MS = 15_000;

/** Creates the reporter for `mode`. */
export function createReporter(
  stream: ProgressStream,
  mode: ReporterMode,
  options: { lineIntervalMs?: number } = {},
): Reporter {
  const lineInterval = options.lineIntervalMs ?? DEFAULT_LINE_INTERVAL_MS;
  let barShown = false;
  let lastLineAt = Date.now();
  let last: ProgressState | null = null;
  const clear = () => {
    if (barShown) stream.write('\r\x1b[K');
    barShown = false;
  };
  const drawBar = () => {
    if (!last) return;
    stream.write(`\r\x1b[K${renderBar(last, stream.columns ?? 80)}`);
    barShown = true;
  };
  return {
    status(message) {
      if (mode === 'none') return;
      if (mode === 'lines') {
        stream.write(`${PREFIX}${message}\n`);
        return;
      }
      clear();
      stream.write(`${message}\n`);
      drawBar();
    },
    progress(state) {
      if (mode === 'none') return;
      last = state;
      if (mode === 'bar') {
        drawBar();
        return;
      }
      const now = Date.now();
      if (now - lastLineAt < lineInterval) return;
      lastLineAt = now;
      stream.write(`${PREFIX}${renderLine(state)}\n`);
    },
    clear() {
      clear();
      last = null;
    },
  };
}
