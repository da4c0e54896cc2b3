import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalCluster } from '../../src/db/local-cluster.ts';

test('explains, instead of failing in initdb, when the postgres user cannot reach the data folder', { skip: process.getuid?.() !== 0 && 'only as root' }, async () => {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'bb-closed-'));
  chmodSync(parent, 0o700);
  await assert.rejects(
    startLocalCluster({ binDir: process.env.BB_TEST_PG_BIN!, dataDir: path.join(parent, 'data'), password: 'x', removeOnStop: true }),
    /"postgres" user, which cannot enter .*bb-closed-.*chmod o\+x/,
  );
});
