import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { startLocalCluster, SYSTEM_PG15_BIN, type LocalCluster } from '../../dev/db/local-cluster.ts';
import { parseDatabaseUrl, writePasswordFile } from '../../src/engine/index.ts';

/** The host policy of tests that call the engine: their source servers run on loopback. */
export const LOOPBACK_ALLOWED = { allowPrivate: true };
/** `LOOPBACK_ALLOWED` as an option of prepareDump and startDump. */
export const LOOPBACK_ALLOWED_OPTIONS = { hosts: LOOPBACK_ALLOWED };

/** A throwaway source server for dump tests, with a password that exercises pgpass escaping. */
export interface SourceServer {
  readonly cluster: LocalCluster;
  readonly password: string;
  /** The URL of one database on this server. */
  url(database: string): string;
  /** Runs statements as the superuser in one database and closes the connection. */
  run(database: string, sql: string): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts a server for one test file, serving TLS unless `tls: false`. The password holds `:`, `\` and non-ASCII characters on purpose:
 * they must survive the password file's escaping, and are easy to grep for in argv and logs.
 */
export async function startSourceServer(
  binDir: string = SYSTEM_PG15_BIN,
  options: { tls?: boolean } = {},
): Promise<SourceServer> {
  const parent = mkdtempSync(path.join(os.tmpdir(), 'bb-dump-src-'));
  chmodSync(parent, 0o755); // the server runs as the postgres user when we are root
  const password = `pw:${randomBytes(6).toString('hex')}\\é:secret`;
  // TLS as on Heroku Postgres (self-signed): the simulator's forks live on this server and are dumped
  // with sslmode=require. `tls: false` plays a server that cannot speak it.
  const cluster = await startLocalCluster({
    binDir,
    dataDir: path.join(parent, 'data'),
    password,
    removeOnStop: true,
    tls: options.tls ?? true,
  });
  const url = (database: string) => {
    const parsed = new URL(cluster.url);
    parsed.pathname = '/' + encodeURIComponent(database);
    return parsed.toString();
  };
  return {
    cluster,
    password,
    url,
    async run(database, sql) {
      const client = new pg.Client(url(database));
      await client.connect();
      try {
        await client.query(sql);
      } finally {
        await client.end();
      }
    },
    async stop() {
      await cluster.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

/** Creates an empty database and returns its URL. */
export async function createDatabase(server: SourceServer, name: string): Promise<string> {
  await server.run('postgres', `create database "${name}"`);
  return server.url(name);
}

/**
 * Seeds a small database with what a restore most often gets wrong: several schemas, non-ASCII
 * identifiers, contrib extensions, a large object, a `heroku_ext` schema (which the dump must leave out)
 * and, when asked, one bigger table so a dump lasts long enough to interfere with.
 */
export async function seedSourceDatabase(
  server: SourceServer,
  name: string,
  options: { bigTableRows?: number } = {},
): Promise<string> {
  const url = await createDatabase(server, name);
  await server.run(
    name,
    `
    create extension citext;
    create extension pgcrypto;
    create schema heroku_ext;
    create table heroku_ext.not_ours (id int);
    insert into heroku_ext.not_ours values (1);

    create table public.customers (id bigint primary key, email citext not null unique, profile jsonb, created_at timestamptz not null);
    insert into public.customers
      select i, 'user' || i || '@example.com', jsonb_build_object('n', i, 'tags', array['a', 'b']), '2024-01-01'::timestamptz + i * interval '1 minute'
      from generate_series(1, 2000) i;

    create schema sales;
    create table sales.orders (id serial primary key, customer_id bigint references public.customers (id), total numeric(12, 2), note text);
    insert into sales.orders (customer_id, total, note)
      select 1 + i % 2000, (i * 1.37)::numeric(12, 2), case when i % 7 = 0 then null else 'note ' || i end from generate_series(1, 5000) i;
    create view sales.order_totals as select customer_id, sum(total) as total from sales.orders group by customer_id;

    create schema "Ünïcödé";
    create table "Ünïcödé"."Ñandú ☃" ("clé" text primary key, "值" int, digest bytea);
    insert into "Ünïcödé"."Ñandú ☃" select 'ключ-' || i, i, digest('x' || i, 'sha256') from generate_series(1, 300) i;

    create table public.attachments (id int primary key, body bytea);
    insert into public.attachments select i, gen_random_bytes(512) from generate_series(1, 200) i;

    select lo_from_bytea(0, convert_to(repeat('large object payload ', 500), 'UTF8'));
    select lo_from_bytea(0, (select string_agg(gen_random_bytes(1000), ''::bytea) from generate_series(1, 20)));
  `,
  );
  if (options.bigTableRows) await addBigTable(server, name, options.bigTableRows);
  return url;
}

/** Adds `public.big`: poorly compressible rows, about 100 bytes each, so a dump takes a moment. */
export async function addBigTable(server: SourceServer, database: string, rows: number): Promise<void> {
  await server.run(
    database,
    `
    create table public.big (id int, a text, b text);
    insert into public.big select i, md5(i::text) || md5((i * 7)::text), md5((i * 13)::text) from generate_series(1, ${rows}) i;
  `,
  );
}

/**
 * A digest of every user table's rows in a fixed order, plus the large objects and extensions, so two
 * databases can be compared after a restore.
 */
export async function fingerprintDatabase(url: string): Promise<Record<string, string>> {
  const client = new pg.Client(url);
  await client.connect();
  try {
    const tables = await client.query<{ schema: string; name: string }>(`
      select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
      where c.relkind = 'r' and n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg_toast%'
      order by 1, 2`);
    const result: Record<string, string> = {};
    for (const { schema, name } of tables.rows) {
      const ident = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
      const row = await client.query<{ n: string; digest: string | null }>(
        `select count(*)::text as n, md5(string_agg(t::text, E'\\n' order by t::text)) as digest from ${ident} t`,
      );
      result[`table ${schema}.${name}`] = `${row.rows[0]?.n}:${row.rows[0]?.digest}`;
    }
    const los = await client.query<{ digest: string | null; n: string }>(
      `select count(*)::text as n, md5(string_agg(md5(lo_get(oid)), ',' order by md5(lo_get(oid)))) as digest from pg_largeobject_metadata`,
    );
    result['large objects'] = `${los.rows[0]?.n}:${los.rows[0]?.digest}`;
    const extensions = await client.query<{ names: string }>(
      `select string_agg(extname, ',' order by extname) as names from pg_extension`,
    );
    result.extensions = extensions.rows[0]?.names ?? '';
    const views = await client.query<{ names: string | null }>(
      `select string_agg(schemaname || '.' || viewname, ',' order by schemaname, viewname) as names from pg_views where schemaname not in ('pg_catalog', 'information_schema')`,
    );
    result.views = views.rows[0]?.names ?? '';
    return result;
  } finally {
    await client.end();
  }
}

/**
 * Restores a custom-format archive into a new database with stock pg_restore, reading it from stdin as
 * a downloaded stream would be, and returns the new database's URL.
 */
export async function restoreArchive(
  server: SourceServer,
  database: string,
  archive: Buffer,
  pgRestore = path.join(SYSTEM_PG15_BIN, 'pg_restore'),
): Promise<string> {
  const url = await createDatabase(server, database);
  const passwordFile = await writePasswordFile(parseDatabaseUrl(url));
  try {
    const child = spawn(
      pgRestore,
      [
        '--no-owner',
        '--no-acl',
        '--exit-on-error',
        '--host=127.0.0.1',
        `--port=${server.cluster.port}`,
        '--username=postgres',
        `--dbname=${database}`,
        '-w',
      ],
      {
        stdio: ['pipe', 'ignore', 'pipe'],
        env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: passwordFile.path },
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.stdin.on('error', () => {}); // an early exit shows in the exit code
    child.stdin.end(archive);
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) throw new Error(`pg_restore exited with ${code}: ${stderr}`);
  } finally {
    await passwordFile.remove();
  }
  return url;
}

/** `pg_restore --list` of an archive given on stdin. */
export async function listArchive(
  archive: Buffer,
  pgRestore = path.join(SYSTEM_PG15_BIN, 'pg_restore'),
): Promise<string> {
  const child = spawn(pgRestore, ['--list'], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  child.stdin.on('error', () => {}); // --list stops reading after the table of contents
  child.stdin.end(archive);
  const [code] = (await once(child, 'close')) as [number | null];
  if (code !== 0) throw new Error(`pg_restore --list exited with ${code}: ${stderr}`);
  return stdout;
}
