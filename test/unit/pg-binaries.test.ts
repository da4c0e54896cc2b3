import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  selectPgBinaries,
  listPgBinaries,
  defaultVersionedRoots,
  uncoveredServerMajors,
  SUPPORTED_SERVER_MAJORS,
} from '../../src/engine/pg-binaries.ts';
import { isDumpFailure } from '../../src/engine/index.ts';
import { SYSTEM_PG15_BIN } from '../../dev/db/local-cluster.ts';

const root = mkdtempSync(path.join(os.tmpdir(), 'bb-pgbin-'));
test.after(() => rmSync(root, { recursive: true, force: true }));

/** A folder with scripts that answer `--version` like pg_dump/pg_restore of that version. */
function fakeBinDir(name: string, version: string, options: { withRestore?: boolean } = {}): string {
  const dir = path.join(root, name);
  mkdirSync(dir, { recursive: true });
  const tools = options.withRestore === false ? ['pg_dump'] : ['pg_dump', 'pg_restore'];
  for (const tool of tools)
    writeFileSync(path.join(dir, tool), `#!/bin/sh\necho "${tool} (PostgreSQL) ${version}"\n`, { mode: 0o755 });
  return dir;
}

function versionedRoot(name: string, versions: string[]): string {
  const base = path.join(root, name);
  for (const version of versions) fakeBinDir(path.join(name, version.split('.')[0] ?? version, 'bin'), version);
  return base;
}

test('the closest pg_dump at least as new as the server is chosen', async () => {
  const versioned = versionedRoot('versioned-a', ['14.9', '16.4', '17.2']);
  const chosen = await selectPgBinaries(15, { versionedRoots: [versioned], searchPath: '' });
  assert.equal(chosen.major, 16);
  assert.equal(chosen.pgDump, path.join(versioned, '16', 'bin', 'pg_dump'));
  assert.equal(chosen.pgRestore, path.join(versioned, '16', 'bin', 'pg_restore'));
});

test('on Heroku each supported server major gets its own pg_dump, from the stack or the apt buildpack', async () => {
  // heroku-24 ships postgresql-client-16 in /usr/lib/postgresql; the apt buildpack unpacks the Aptfile's
  // clients under $HOME/.apt, so that tree's versioned folders are searched too.
  const system = versionedRoot('heroku-system', ['16.9']);
  const home = path.join(root, 'heroku-app');
  const apt = versionedRoot(path.join('heroku-app', '.apt', 'usr', 'lib', 'postgresql'), [
    '14.18',
    '15.13',
    '16.9',
    '17.5',
    '18.1',
  ]);
  assert.ok(defaultVersionedRoots(home).includes(apt));
  for (const major of SUPPORTED_SERVER_MAJORS) {
    const chosen = await selectPgBinaries(major, { versionedRoots: [system, apt], searchPath: '' });
    assert.equal(chosen.major, major, `server ${major}`);
    assert.equal(path.basename(path.dirname(path.dirname(chosen.pgDump))), String(major));
  }
});

test("the default search includes Debian's folders and the apt buildpack's under HOME", async () => {
  assert.deepEqual(defaultVersionedRoots('/app'), ['/usr/lib/postgresql', '/app/.apt/usr/lib/postgresql']);
  assert.deepEqual(defaultVersionedRoots(''), ['/usr/lib/postgresql']);
  const home = path.join(root, 'home-default');
  versionedRoot(path.join('home-default', '.apt', 'usr', 'lib', 'postgresql'), ['18.1']);
  const chosen = await selectPgBinaries(18, { versionedRoots: defaultVersionedRoots(home), searchPath: '' });
  assert.equal(chosen.pgDump, path.join(home, '.apt', 'usr', 'lib', 'postgresql', '18', 'bin', 'pg_dump'));
});

test('a pg_dump that needs the loader path set for it (apt buildpack libraries) is found', async (t) => {
  // Like a binary linked against a libpq unpacked under $HOME/.apt: it starts only when LD_LIBRARY_PATH
  // names that folder, as the buildpack's .profile.d script arranges.
  const libDir = path.join(root, 'apt-lib');
  const dir = path.join(root, 'needs-loader-path');
  mkdirSync(dir, { recursive: true });
  for (const tool of ['pg_dump', 'pg_restore']) {
    writeFileSync(
      path.join(dir, tool),
      `#!/bin/sh\ncase ":$LD_LIBRARY_PATH:" in *":${libDir}:"*) echo "${tool} (PostgreSQL) 18.1";; *) echo "error while loading shared libraries: libpq.so.5" >&2; exit 127;; esac\n`,
      { mode: 0o755 },
    );
  }
  const saved = process.env.LD_LIBRARY_PATH;
  t.after(() => {
    if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
    else process.env.LD_LIBRARY_PATH = saved;
  });
  process.env.LD_LIBRARY_PATH = `${libDir}:/elsewhere`;
  const { found } = await listPgBinaries({ binDir: dir, versionedRoots: [], searchPath: '' });
  assert.deepEqual(
    found.map((b) => b.major),
    [18],
  );
});

test('a configured folder and the PATH are searched too', async () => {
  const configured = fakeBinDir('configured', '18.0');
  const onPath = fakeBinDir('on-path', '17.5');
  const empty = path.join(root, 'none');
  assert.equal(
    (await selectPgBinaries(18, { binDir: configured, versionedRoots: [empty], searchPath: '' })).pgDump,
    path.join(configured, 'pg_dump'),
  );
  assert.equal(
    (
      await selectPgBinaries(17, {
        binDir: configured,
        versionedRoots: [empty],
        searchPath: `/nonexistent${path.delimiter}${onPath}`,
      })
    ).major,
    17,
  );
});

test('a pg_dump without a pg_restore beside it is not used', async () => {
  const lonely = fakeBinDir('lonely', '17.1', { withRestore: false });
  const { found } = await listPgBinaries({ binDir: lonely, versionedRoots: [path.join(root, 'none')], searchPath: '' });
  assert.deepEqual(found, []);
});

test('a server newer than every pg_dump is refused, naming both versions and what to install', async () => {
  const versioned = versionedRoot('versioned-b', ['14.9', '15.6']);
  await assert.rejects(selectPgBinaries(17, { versionedRoots: [versioned], searchPath: '' }), (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'version_mismatch');
    assert.equal(error.retryable, false);
    assert.match(error.message, /runs PostgreSQL 17 but the newest pg_dump here is 15/);
    assert.match(error.message, /install postgresql-client-17 or set PG_BIN_DIR/);
    return true;
  });
});

test('no pg_dump at all is its own non-retryable error', async () => {
  await assert.rejects(
    selectPgBinaries(15, { versionedRoots: [path.join(root, 'none')], searchPath: '' }),
    (error: unknown) => {
      assert.ok(isDumpFailure(error));
      assert.equal(error.kind, 'pg_dump_missing');
      assert.equal(error.retryable, false);
      return true;
    },
  );
});

test('the system pg_dump 15 is found for a 15 server', async () => {
  const chosen = await selectPgBinaries(15);
  assert.equal(chosen.major, 15);
  assert.equal(chosen.pgDump, path.join(SYSTEM_PG15_BIN, 'pg_dump'));
});

test('the supported server majors no pg_dump found can back up are named', async () => {
  const versioned = versionedRoot('coverage', ['15.6', '16.4']);
  const { found } = await listPgBinaries({ versionedRoots: [versioned], searchPath: '' });
  assert.deepEqual(uncoveredServerMajors(found), [17, 18]);
  assert.deepEqual(uncoveredServerMajors([]), [...SUPPORTED_SERVER_MAJORS]);
});
