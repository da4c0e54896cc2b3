import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { selectPgBinaries, listPgBinaries } from '../../src/engine/pg-binaries.ts';
import { isDumpFailure } from '../../src/engine/index.ts';
import { SYSTEM_PG15_BIN } from '../../dev/db/local-cluster.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'bb-pgbin-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A folder with scripts that answer `--version` like pg_dump/pg_restore of that version. */
function fakeBinDir(name: string, version: string, options: { withRestore?: boolean } = {}): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const tools = options.withRestore === false ? ['pg_dump'] : ['pg_dump', 'pg_restore'];
  for (const tool of tools) writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${version}"\n`, { mode: 0o755 });
  return dir;
}

function versionedRoot(name: string, versions: string[]): string {
  const base = path.join(root, name);
  for (const version of versions) fakeBinDir(path.join(name, version.split('.')[0] ?? version, 'bin'), version);
  return base;
}

test('the closest pg_dump at least as new as the server is chosen', async () => {
  const versioned = versionedRoot('versioned-a', ['14.9', '16.4', '17.2']);
  const chosen = await selectPgBinaries(15, { versionedRoot: versioned, searchPath: '' });
  assert.equal(chosen.major, 16);
  assert.equal(chosen.pgDump, path.join(versioned, '16', 'bin', 'pg_dump'));
  assert.equal(chosen.pgRestore, path.join(versioned, '16', 'bin', 'pg_restore'));
});

test('a configured folder and the PATH are searched too', async () => {
  const configured = fakeBinDir('configured', '18.0');
  const onPath = fakeBinDir('on-path', '17.5');
  const empty = path.join(root, 'none');
  assert.equal((await selectPgBinaries(18, { binDir: configured, versionedRoot: empty, searchPath: '' })).pgDump, path.join(configured, 'pg_dump'));
  assert.equal((await selectPgBinaries(17, { binDir: configured, versionedRoot: empty, searchPath: `/nonexistent${path.delimiter}${onPath}` })).major, 17);
});

test('a pg_dump without a pg_restore beside it is not used', async () => {
  const lonely = fakeBinDir('lonely', '17.1', { withRestore: false });
  const { found } = await listPgBinaries({ binDir: lonely, versionedRoot: path.join(root, 'none'), searchPath: '' });
  assert.deepEqual(found, []);
});

test('a server newer than every pg_dump is refused, naming both versions and what to install', async () => {
  const versioned = versionedRoot('versioned-b', ['14.9', '15.6']);
  await assert.rejects(selectPgBinaries(17, { versionedRoot: versioned, searchPath: '' }), (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'version_mismatch');
    assert.equal(error.retryable, false);
    assert.match(error.message, /runs PostgreSQL 17 but the newest pg_dump here is 15/);
    assert.match(error.message, /install postgresql-client-17 or set PG_BIN_DIR/);
    return true;
  });
});

test('no pg_dump at all is its own non-retryable error', async () => {
  await assert.rejects(selectPgBinaries(15, { versionedRoot: path.join(root, 'none'), searchPath: '' }), (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'pg_dump_missing');
    assert.equal(error.retryable, false);
    return true;
  });
});

test('the system pg_dump 15 is found for a 15 server', async () => {
  const chosen = await selectPgBinaries(15);
  assert.equal(chosen.major, 15);
  assert.equal(chosen.pgDump, path.join(SYSTEM_PG15_BIN, 'pg_dump'));
});
