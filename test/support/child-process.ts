import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** A process started from outside our code, with everything it printed. */
export interface RunningCommand {
  child: ChildProcess;
  output(): string;
  stop(): Promise<number | null>;
}

/**
 * Runs `npm <args>` in the checkout with exactly `env` (plus PATH with this Node first), as an operator
 * would; it is stopped with SIGTERM when the test file ends.
 */
export function runNpm(args: string[], env: Record<string, string>): RunningCommand {
  const child = spawn('npm', args, {
    cwd: ROOT,
    env: {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/root',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const chunks: string[] = [];
  child.stdout.on('data', (c: Buffer) => chunks.push(c.toString()));
  child.stderr.on('data', (c: Buffer) => chunks.push(c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const command: RunningCommand = {
    child,
    output: () => chunks.join(''),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        // The whole group: npm and the node process it started.
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          /* already gone */
        }
        const timer = setTimeout(() => {
          try {
            process.kill(-child.pid!, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, 20_000);
        const code = await exited;
        clearTimeout(timer);
        return code;
      }
      return child.exitCode;
    },
  };
  after(() => command.stop());
  return command;
}

/** Waits until `url` answers 200, failing early with the output if the process exits. */
export async function waitForHttp(url: string, command: RunningCommand, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (command.child.exitCode !== null)
      throw new Error(`process exited (${command.child.exitCode}):\n${command.output()}`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not listening yet */
    }
    if (Date.now() > deadline) throw new Error(`${url} did not answer in time:\n${command.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
