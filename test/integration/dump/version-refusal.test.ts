import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalCluster, embeddedBinDir, type LocalCluster } from '../../../dev/db/local-cluster.ts';
import { LOOPBACK_ALLOWED_OPTIONS } from '../../support/seed-source.ts';
import {
  prepareDump,
  runDump,
  directSource,
  parseDatabaseUrl,
  describeFormat,
  selectPgBinaries,
  listPgBinaries,
  isDumpFailure,
  type DumpPlan,
} from '../../../src/engine/index.ts';

let cluster: LocalCluster;
let parent: string;
// The refusal needs a machine whose newest pg_dump is older than 17 (CI installs only 15).
const newestMajor = Math.max(0, ...(await listPgBinaries()).found.map((b) => b.major));
const skip = newestMajor >= 17 ? `this machine has pg_dump ${newestMajor}` : false;

before(async () => {
  if (skip) return;
  parent = mkdtempSync(path.join(os.tmpdir(), 'bb-dump-pg17-'));
  chmodSync(parent, 0o755); // the server runs as the postgres user when we are root
  cluster = await startLocalCluster({
    binDir: await embeddedBinDir(),
    dataDir: path.join(parent, 'data'),
    password: 'pg17-test-password',
    removeOnStop: true,
  });
});
after(async () => {
  await cluster?.stop();
  rmSync(parent, { recursive: true, force: true });
});

test('a PostgreSQL 17 server is refused at once, naming both versions and what to install', { skip }, async () => {
  const started = Date.now();
  await assert.rejects(prepareDump(directSource(cluster.url), LOOPBACK_ALLOWED_OPTIONS), (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'version_mismatch');
    assert.equal(error.retryable, false);
    assert.match(error.message, /the database runs PostgreSQL 17 but the newest pg_dump here is 15/);
    assert.match(error.message, /install postgresql-client-17 or set PG_BIN_DIR/);
    assert.ok(!error.message.includes('pg17-test-password'));
    return true;
  });
  assert.ok(Date.now() - started < 3000, `took ${Date.now() - started} ms`);
});

test("pg_dump's own version refusal is classified the same way", { skip }, async () => {
  // A plan that skipped the check: pg_dump 15 against the 17 server.
  const binaries = await selectPgBinaries(15);
  const plan: DumpPlan = {
    source: 'test',
    connection: parseDatabaseUrl(cluster.url),
    server: {
      versionNum: 150000,
      version: '15',
      major: 15,
      databaseBytes: 0,
      tableBytes: 0,
      largeObjectBytes: 0,
      tableSizes: new Map(),
      hasHerokuExt: false,
    },
    binaries,
    format: describeFormat('default', binaries.major, false),
    archiveBytesUpperBound: 0,
  };
  const run = await runDump(plan);
  run.stdout.resume();
  await assert.rejects(run.done, (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'version_mismatch');
    assert.equal(error.retryable, false);
    assert.match(error.message, /server version mismatch/);
    return true;
  });
});
