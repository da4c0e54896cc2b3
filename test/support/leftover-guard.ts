import { randomUUID } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

// Every server and process a test starts is stopped when its file ends, pass or fail. The global setup
// marks the run: an environment variable that every process the tests start inherits (PostgreSQL servers,
// npm start and what it starts, worker processes), and that no other run on the machine carries. The global
// teardown, once every test file has ended and the shared server has stopped, looks for processes still
// carrying the mark and fails the run, naming them (and stops them, so one leak does not pile up).
//
// The same goes for temporary folders. The global setup gives the run a temporary root of its own and
// points TMPDIR at it, so every `mkdtemp(os.tmpdir())` of the tests and of the processes they start lands
// there; the teardown fails the run if anything is left in it, naming what, and then removes the root.

const MARK = 'BB_TEST_RUN';
const TEMP_ROOT = 'BB_TEST_TMP_ROOT';

/** Called by a global setup, before anything starts: the mark the run's processes will carry. */
export function markRun(): void {
  process.env[MARK] = randomUUID();
}

/**
 * The environment entries that mark this run's processes, for a test that starts a process with its own
 * env: the mark, and TMPDIR pointing at the run's temporary root (so what the process leaves is seen).
 */
export function runMark(): Record<string, string> {
  const value = process.env[MARK];
  const root = process.env[TEMP_ROOT];
  return { ...(value ? { [MARK]: value } : {}), ...(root ? { TMPDIR: root } : {}) };
}

/** Processes (other than this one) whose environment carries this run's mark, with their command lines. */
export function markedProcesses(): Array<{ pid: number; command: string }> {
  const value = process.env[MARK];
  if (!value) return [];
  const needle = `${MARK}=${value}\0`;
  const found: Array<{ pid: number; command: string }> = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return []; // no /proc (not Linux): nothing to look at
  }
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      if (!readFileSync(`/proc/${pid}/environ`, 'latin1').includes(needle)) continue;
      const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
      found.push({ pid, command });
    } catch {
      /* gone meanwhile, or not ours to read */
    }
  }
  return found;
}

/** Called by a global teardown: fails the run (exit code 1) when a process the tests started outlived them. */
export async function checkNothingLeftRunning(graceMs = 5000): Promise<void> {
  const deadline = Date.now() + graceMs;
  let left = markedProcesses();
  while (left.length > 0 && Date.now() < deadline) {
    await sleep(200); // a server told to stop a moment ago may still be on its way out
    left = markedProcesses();
  }
  if (left.length === 0) return;
  // Thrown errors from a global teardown set the exit code but are not printed; say it ourselves.
  process.stderr.write(
    `\nThe tests left processes running (stop every server and process a test starts when its file ends):\n` +
      left.map(({ pid, command }) => `  ${pid} ${command.slice(0, 200)}\n`).join(''),
  );
  for (const { pid } of left) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* already gone */
    }
  }
  process.exitCode = 1;
}

/**
 * Called by a global setup before anything starts: a fresh folder under the machine's temporary folder
 * becomes the run's TMPDIR (inherited by every test file and process the run starts). It is enterable by
 * others (0755) because PostgreSQL servers run as the postgres user with their data folders inside it.
 */
export function makeRunTemporaryRoot(): string {
  const root = mkdtempSync(path.join(os.tmpdir(), 'bb-test-run-'));
  chmodSync(root, 0o755);
  process.env[TEMP_ROOT] = root;
  process.env.TMPDIR = root;
  return root;
}

/**
 * Caches that tools keep in the temporary folder on purpose, shared between runs, not left by a test:
 * Node's module compile cache (npm turns it on for itself), and the copy of a PostgreSQL installation
 * that dev/db/local-cluster.ts makes once per machine when the checkout is out of the postgres user's
 * reach (a `mktemp -d` clone), named `big-backup-postgres-<hash>`.
 */
const TOOL_CACHES = new Set(['node-compile-cache']);
const isToolCache = (name: string) => TOOL_CACHES.has(name) || /^big-backup-postgres-[0-9a-f]{12}$/.test(name);

/** What the run's tests left in its temporary root, by name. */
export function leftoverFolders(): string[] {
  const root = process.env[TEMP_ROOT];
  if (!root) return [];
  try {
    return readdirSync(root)
      .filter((name) => !isToolCache(name))
      .sort();
  } catch {
    return [];
  }
}

/**
 * Called by a global teardown, after every test file has ended and every process has stopped: fails the
 * run (exit code 1) when a test left anything in the run's temporary root, naming it; then removes the root.
 */
export function checkNoFoldersLeft(): void {
  const root = process.env[TEMP_ROOT];
  if (!root) return;
  const left = leftoverFolders();
  if (left.length > 0) {
    process.stderr.write(
      `\nThe tests left temporary folders behind (remove every folder a test creates when its file ends):\n` +
        left.map((name) => `  ${path.join(root, name)}\n`).join(''),
    );
    process.exitCode = 1;
  }
  rmSync(root, { recursive: true, force: true });
}
