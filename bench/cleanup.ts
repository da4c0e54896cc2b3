/** What a benchmark started and must stop, last first; also run on SIGINT/SIGTERM. */
export const cleanups: Array<() => Promise<void> | void> = [];

export async function cleanup(): Promise<void> {
  while (cleanups.length > 0) {
    try {
      await cleanups.pop()!();
    } catch (error) {
      process.stderr.write(`cleanup: ${(error as Error).message}\n`);
    }
  }
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping and cleaning up…\n`);
    void cleanup().finally(() => process.exit(130));
  });
}

/** A progress line on stderr (stdout is the report). */
export const progress = (line: string) => process.stderr.write(line + '\n');
