import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runMark } from './leftover-guard.ts';

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
      ...runMark(),
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
      // The whole group: npm, the node process it started and what that started (the embedded PostgreSQL).
      // npm exits as soon as it has passed the signal on, so stopping waits for the group to be gone, not
      // for npm: a test that starts again right after must not meet the previous PostgreSQL.
      signalGroup(child, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(child, 'SIGKILL'), 20_000);
      const code = await exited;
      // Bounded: a process that outlives even SIGKILL (a zombie nobody reaps) must not hang the suite.
      const deadline = Date.now() + 30_000;
      while (signalGroup(child, 0) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100));
      clearTimeout(timer);
      return code;
    },
  };
  after(() => command.stop());
  return command;
}

/** Sends `signal` to the child's process group; false once the group has no process left. */
function signalGroup(child: ChildProcess, signal: NodeJS.Signals | 0): boolean {
  try {
    process.kill(-child.pid!, signal);
    return true;
  } catch {
    return false; // ESRCH: every process of the group has exited
  }
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
