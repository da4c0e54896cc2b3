import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

// No test may write inside the checkout outside its ignored folders (test-output/, .data/, dist/, ...):
// a test that does leaves a developer's tree dirty, or deletes their work. The global setup of every test
// run records what `git status` shows (and a hash of each file it lists, so a file that was already
// modified before the run still counts as changed if a test writes to it); the global teardown compares
// and fails the run, naming the files, when anything is new or different.

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Each path `git status` lists, with its status and a hash of what the file holds now. */
export type CheckoutState = Map<string, string>;

/** The checkout's changed and untracked files now; undefined when this is not a git checkout. */
export function checkoutState(root = ROOT): CheckoutState | undefined {
  let output: string;
  try {
    output = execFileSync('git', ['status', '--porcelain=v1', '-z', '--untracked-files=all'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
  } catch {
    return undefined; // no git, or not a git checkout (an unpacked tarball): nothing to compare
  }
  const state: CheckoutState = new Map();
  const entries = output.split('\0').filter(Boolean);
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    const status = entry.slice(0, 2);
    const file = entry.slice(3);
    if (status.includes('R') || status.includes('C')) i++; // a rename's source follows as its own entry
    state.set(file, `${status} ${contentHash(path.join(root, file))}`);
  }
  return state;
}

/** The paths that are new or different in `after` (including ones that went back to their committed state). */
export function checkoutChanges(before: CheckoutState, after: CheckoutState): string[] {
  const changed = new Set<string>();
  for (const [file, state] of after) if (before.get(file) !== state) changed.add(file);
  for (const file of before.keys()) if (!after.has(file)) changed.add(file);
  return [...changed].sort();
}

let atStart: CheckoutState | undefined;

/** Called by a global setup: remembers the checkout's state before any test runs. */
export function recordCheckout(): void {
  atStart = checkoutState();
  if (!atStart)
    process.stderr.write('not a git checkout: the test run cannot check that it leaves the tree as it was\n');
}

/** Called by a global teardown: fails the run (exit code 1) when a test changed files in the checkout. */
export function checkCheckoutUnchanged(): void {
  if (!atStart) return;
  const now = checkoutState();
  if (!now) return;
  const changed = checkoutChanges(atStart, now);
  if (changed.length === 0) return;
  // Thrown errors from a global teardown set the exit code but are not printed; say it ourselves.
  process.stderr.write(
    `\nThe tests changed files inside the checkout (write to a temporary folder or an ignored one instead):\n` +
      changed.map((file) => `  ${file}\n`).join(''),
  );
  process.exitCode = 1;
}

function contentHash(file: string): string {
  try {
    if (!statSync(file).isFile()) return 'not-a-file';
    return createHash('sha256').update(readFileSync(file)).digest('hex');
  } catch {
    return 'missing';
  }
}
