/** Collects log lines and writes them in batches (about once a second), so a chatty pg_dump costs few inserts. */
export interface LogBuffer {
  add(line: string): void;
  flush(): Promise<void>;
  close(): Promise<void>;
}

// A backup's log is for people; past this many lines an attempt keeps only a note that it stopped logging.
const MAX_LINES_PER_ATTEMPT = 20_000;

export function createLogBuffer(
  write: (lines: string[]) => Promise<void>,
  onError: (error: Error) => void,
  intervalMs = 1000,
): LogBuffer {
  let pending: string[] = [];
  let total = 0;
  let writing = Promise.resolve();
  const flush = () => {
    const lines = pending;
    pending = [];
    writing = writing.then(() => (lines.length ? write(lines) : undefined)).catch((error: Error) => onError(error));
    return writing;
  };
  const timer = setInterval(() => {
    void flush();
  }, intervalMs);
  return {
    add(line) {
      total += 1;
      if (total < MAX_LINES_PER_ATTEMPT) pending.push(line.slice(0, 2000));
      else if (total === MAX_LINES_PER_ATTEMPT) pending.push(`(log truncated after ${MAX_LINES_PER_ATTEMPT} lines)`);
    },
    flush,
    async close() {
      clearInterval(timer);
      await flush();
    },
  };
}
