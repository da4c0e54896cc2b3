import pg from 'pg';
import { findCopyBinaries, type CopyBinaries } from './binaries.ts';
import { copyDatabase } from './copy.ts';

/** The real PostgreSQL server simulated Heroku Postgres databases live on. */
export interface PostgresServer {
  /** A URL for one of its databases, with the admin credentials. */
  urlFor(database: string): string;
  createDatabase(name: string): Promise<void>;
  /** Drops the database, ending its sessions; a missing one is fine. */
  dropDatabase(name: string): Promise<void>;
  databaseExists(name: string): Promise<boolean>;
  /** Copies `sourceUrl` (any reachable server) into the existing database `name`. */
  copyInto(sourceUrl: string, name: string, signal: AbortSignal): Promise<void>;
}

/** Talks to the server at a superuser URL; one short connection per statement. */
export function postgresServer(adminUrl: string, binDir?: string): PostgresServer {
  let binaries: Promise<CopyBinaries> | null = null;
  const admin = async <T>(work: (client: pg.Client) => Promise<T>): Promise<T> => {
    const client = new pg.Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
    await client.connect();
    try {
      return await work(client);
    } finally {
      await client.end().catch(() => {});
    }
  };
  const urlFor = (database: string): string => {
    const url = new URL(adminUrl);
    url.pathname = '/' + encodeURIComponent(database);
    return url.toString();
  };
  return {
    urlFor,
    createDatabase: (name) =>
      admin(async (c) => {
        await c.query(`create database ${ident(name)}`);
      }),
    dropDatabase: (name) =>
      admin(async (c) => {
        await c.query(`drop database if exists ${ident(name)} with (force)`);
      }),
    databaseExists: (name) =>
      admin(async (c) => (await c.query('select 1 from pg_database where datname = $1', [name])).rowCount === 1),
    async copyInto(sourceUrl, name, signal) {
      binaries ??= findCopyBinaries(binDir);
      await copyDatabase(await binaries, sourceUrl, urlFor(name), signal);
    },
  };
}

function ident(name: string): string {
  return '"' + name.replace(/"/g, '""') + '"';
}
