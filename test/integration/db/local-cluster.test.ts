import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, chmodSync, realpathSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startLocalCluster } from '../../../dev/db/local-cluster.ts';

test(
  'explains, instead of failing in initdb, when the postgres user cannot reach the data folder',
  { skip: process.getuid?.() !== 0 && 'only as root' },
  async () => {
    const parent = mkdtempSync(path.join(os.tmpdir(), 'bb-closed-'));
    chmodSync(parent, 0o700);
    try {
      await assert.rejects(
        startLocalCluster({
          binDir: process.env.BB_TEST_PG_BIN!,
          dataDir: path.join(parent, 'data'),
          password: 'x',
          removeOnStop: true,
        }),
        /"postgres" user, which cannot enter .*bb-closed-.*chmod o\+x/,
      );
    } finally {
      rmSync(parent, { recursive: true, force: true });
    }
  },
);

test(
  'runs binaries that sit where the postgres user cannot reach them, through a shared copy',
  { skip: process.getuid?.() !== 0 && 'only as root' },
  async () => {
    const { cpSync } = await import('node:fs');
    const { embeddedBinDir } = await import('../../../dev/db/local-cluster.ts');
    // Like a checkout in a root home or a mktemp clone: the installation sits in a 0700 folder.
    const privateDir = mkdtempSync(path.join(os.tmpdir(), 'bb-private-'));
    chmodSync(privateDir, 0o700);
    const installation = path.join(privateDir, 'native');
    cpSync(path.dirname(await embeddedBinDir()), installation, { recursive: true, verbatimSymlinks: true });
    const dataParent = mkdtempSync(path.join(os.tmpdir(), 'bb-open-'));
    chmodSync(dataParent, 0o755);
    const cluster = await startLocalCluster({
      binDir: path.join(installation, 'bin'),
      dataDir: path.join(dataParent, 'data'),
      password: 'x',
      removeOnStop: true,
    });
    try {
      const pg = (await import('pg')).default;
      const client = new pg.Client(cluster.url);
      await client.connect();
      assert.match((await client.query('show server_version')).rows[0].server_version, /^\d+/);
      await client.end();
    } finally {
      await cluster.stop();
      // The shared copy is named for the installation it copies, which only this test uses.
      const copy = `big-backup-postgres-${createHash('sha256').update(realpathSync(installation)).digest('hex').slice(0, 12)}`;
      for (const folder of [path.join(os.tmpdir(), copy), privateDir, dataParent])
        rmSync(folder, { recursive: true, force: true });
    }
  },
);
