import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnRestore } from '../../../src/engine/restore-process.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'bb-restore-env-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

test('pg_restore starts with the loader path the apt buildpack sets for its libraries', async (t) => {
  // Like a pg_restore linked against a libpq unpacked under $HOME/.apt: it starts only when
  // LD_LIBRARY_PATH names that folder.
  const libDir = path.join(root, 'apt-lib');
  const pgRestore = path.join(root, 'pg_restore');
  writeFileSync(
    pgRestore,
    `#!/bin/sh\ncase ":$LD_LIBRARY_PATH:" in *":${libDir}:"*) cat >/dev/null; exit 0;; *) echo "error while loading shared libraries: libpq.so.5" >&2; exit 127;; esac\n`,
    { mode: 0o755 },
  );
  const saved = process.env.LD_LIBRARY_PATH;
  t.after(() => {
    if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
    else process.env.LD_LIBRARY_PATH = saved;
  });
  process.env.LD_LIBRARY_PATH = libDir;
  const restore = spawnRestore(pgRestore, ['--list']);
  restore.child.stdin.end();
  assert.equal(await restore.exit, 0, restore.stderrTail());
});
