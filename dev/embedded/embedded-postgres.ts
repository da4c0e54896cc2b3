import { chmodSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { startLocalCluster, type LocalCluster } from '../db/local-cluster.ts';
import { chooseServerOnThisMachine, type ServerChoice } from './server-binaries.ts';

/** The database our own tables live in on the embedded default. */
const DATABASE = 'big_backup';

/**
 * Starts (creating on first use) the embedded PostgreSQL kept under the data folder, on a server the
 * local pg_dump can dump (see chooseServer), and returns it with our database's URL and that choice.
 */
export async function startEmbeddedPostgres(
  dataDir: string,
  password: string,
  options: { log?: (line: string) => void; pgBinDir?: string } = {},
): Promise<{ cluster: LocalCluster; databaseUrl: string; choice: ServerChoice }> {
  mkdirSync(dataDir, { recursive: true });
  chmodSync(dataDir, 0o755); // the server runs as the postgres user when we are root
  const clusterDir = path.join(dataDir, 'postgres');
  const choice = await chooseServerOnThisMachine(clusterDir, options.pgBinDir);
  const cluster = await startLocalCluster({
    binDir: choice.server.binDir,
    dataDir: clusterDir,
    password,
    durable: true,
    // The simulator's Heroku databases live here, and Heroku sources are dumped over TLS.
    tls: true,
    ...(options.log ? { log: options.log } : {}),
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
  return { cluster, databaseUrl: url.toString(), choice };
}
