import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { loaderEnv } from './pg-binaries.ts';

/** A pg_restore reading an archive on its stdin. */
export interface RestoreProcess {
  child: ChildProcessWithoutNullStreams;
  exit: Promise<number | null>;
  stderrTail(): string;
}

/** Starts pg_restore with `args`, reading an archive on its stdin, with the tail of its stderr kept for messages. */
export function spawnRestore(pgRestore: string, args: string[]): RestoreProcess {
  const child: ChildProcessWithoutNullStreams = spawn(pgRestore, args, {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '', LANG: 'C', ...loaderEnv() },
  });
  const stderr: string[] = [];
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr.push(chunk);
    if (stderr.length > 20) stderr.shift();
  });
  // pg_restore --list stops reading once it has the table of contents; the rest of our writes to it
  // then fail with EPIPE, which is expected and not an error.
  child.stdin.on('error', () => {});
  // A pg_restore that cannot start (missing, EAGAIN at the process limit) emits 'error' and never
  // 'close': that is an exit with no status, and its reason becomes the stderr tail.
  const exit = new Promise<number | null>((resolve) => {
    child.once('close', (code) => resolve(code));
    child.once('error', (error) => {
      if (child.pid !== undefined) return; // started: 'close' follows
      stderr.push(`could not start ${pgRestore}: ${error.message}`);
      resolve(null);
    });
  });
  return { child, exit, stderrTail: () => stderr.join('').trim().split('\n').slice(-3).join(' ') };
}

/** Resolves when the stream drains, or closes or fails (a reader that stopped reading is not waited for). */
export function drained(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.removeListener('drain', done);
      stream.removeListener('close', done);
      stream.removeListener('error', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
    stream.once('error', done);
  });
}
