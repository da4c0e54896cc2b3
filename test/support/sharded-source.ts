import { execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { SYSTEM_PG15_BIN } from '../../dev/db/local-cluster.ts';
import { parseDatabaseUrl, writePasswordFile } from '../../src/engine/index.ts';
import {
  addBigTable,
  createDatabase,
  fingerprintDatabase,
  seedSourceDatabase,
  type SourceServer,
} from './seed-source.ts';

/**
 * A database holding what a sharded capture most easily gets wrong, on top of seedSourceDatabase's
 * (citext, non-ASCII names, large objects, a heroku_ext schema): partitions, inheritance, generated
 * columns, an enum, names with spaces, dots and quotes, a materialized view, sequences part-way,
 * values whose text depends on the session (floats, intervals, dates, time zones), an empty table, a
 * table without columns (but with rows), and `public.big`,
 * a table without a primary key of `bigRows` rows, to be split into ctid ranges.
 */
export async function seedShardedDatabase(server: SourceServer, name: string, bigRows: number): Promise<string> {
  const url = await seedSourceDatabase(server, name);
  await addBigTable(server, name, bigRows);
  await server.run(
    name,
    `
    create table public.measurements (id int, region text, reading float8) partition by list (region);
    create table public.measurements_eu partition of public.measurements for values in ('eu');
    create table public.measurements_us partition of public.measurements for values in ('us');
    insert into public.measurements select i, case when i % 3 = 0 then 'us' else 'eu' end, i / 7.0 from generate_series(1, 3000) i;

    create table public.animals (id int, name text);
    create table public.dogs (barks boolean) inherits (public.animals);
    insert into public.animals values (1, 'generic'), (2, 'other');
    insert into public.dogs values (3, 'rex', true), (4, 'fido', false);

    create type public.mood as enum ('sad', 'ok', 'happy');
    create table public.people (id int primary key, mood public.mood, height_cm numeric, height_in numeric generated always as (height_cm / 2.54) stored);
    insert into public.people (id, mood, height_cm) select i, (array['sad','ok','happy'])[1 + i % 3]::public.mood, 150 + i % 50 from generate_series(1, 500) i;

    create schema "we.ird ""schema""";
    create table "we.ird ""schema"""."ta ble.""x"", (y)" ("co,l ""1""" text, "(p)" int, "é" text);
    insert into "we.ird ""schema"""."ta ble.""x"", (y)" select 'v' || i || E'\\t tab \\\\ back\\nline', i, 'ü' from generate_series(1, 200) i;

    create table public.session_values (f8 float8, f4 real, iv interval, d date, ts timestamptz, t time);
    insert into public.session_values values
      (0.1, 0.1, '1 year 2 mons 3 days 04:05:06.789', '2024-02-29', '2024-06-01 12:34:56.789+02', '23:59:59.999999'),
      (1e-300, 3.4e38, '-1 day', '0001-01-01', '1999-12-31 23:59:59+00', '00:00'),
      (null, 'NaN', null, 'infinity', '-infinity', null);

    create table public.empty_table (id int, note text);
    create table public.no_columns ();
    insert into public.no_columns default values;
    insert into public.no_columns default values;

    create materialized view public.customer_counts as select length(email::text) as len, count(*) as n from public.customers group by 1;

    create sequence public.invoice_no start 1000;
    select nextval('public.invoice_no') from generate_series(1, 37);
    create sequence public.never_used;
  `,
  );
  return url;
}

/** Restores an archive file into a new database with `pg_restore -j <jobs>` (seekable input). */
export async function restoreFromFile(
  server: SourceServer,
  database: string,
  file: string,
  jobs: number,
): Promise<string> {
  const url = await createDatabase(server, database);
  const passwordFile = await writePasswordFile(parseDatabaseUrl(url));
  try {
    const child = spawn(
      path.join(SYSTEM_PG15_BIN, 'pg_restore'),
      [
        '--no-owner',
        '--no-acl',
        '--exit-on-error',
        `--jobs=${jobs}`,
        '--host=127.0.0.1',
        `--port=${server.cluster.port}`,
        '--username=postgres',
        `--dbname=${database}`,
        '-w',
        file,
      ],
      {
        stdio: ['ignore', 'ignore', 'pipe'],
        env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: passwordFile.path },
      },
    );
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    const [code] = (await once(child, 'close')) as [number | null];
    if (code !== 0) throw new Error(`pg_restore -j ${jobs} exited with ${code}: ${stderr}`);
  } finally {
    await passwordFile.remove();
  }
  return url;
}

/** Stock `pg_dump` with the given flags, its archive in memory. */
export async function stockDump(url: string, flags: string[]): Promise<Buffer> {
  const { stdout } = await promisify(execFile)(path.join(SYSTEM_PG15_BIN, 'pg_dump'), [...flags, '--dbname', url], {
    encoding: 'buffer',
    maxBuffer: 1024 * 1024 * 1024,
  });
  return stdout;
}

/**
 * fingerprintDatabase's digest plus what it leaves out: sequence values, materialized views' rows,
 * partitioned and inheritance parents read as a whole. heroku_ext is left out, as the dump leaves it.
 */
export async function fullFingerprint(url: string): Promise<Record<string, string>> {
  const result = Object.fromEntries(
    Object.entries(await fingerprintDatabase(url)).filter(([name]) => !name.includes('heroku_ext.')),
  );
  const client = new pg.Client(url);
  await client.connect();
  try {
    const sequences = await client.query<{ name: string; value: string }>(
      `select schemaname || '.' || sequencename as name, coalesce(last_value::text, 'null') as value from pg_sequences
       where schemaname <> 'heroku_ext' order by 1`,
    );
    for (const row of sequences.rows) result[`sequence ${row.name}`] = row.value;
    for (const relation of ['public.customer_counts', 'public.measurements', 'public.animals']) {
      const rows = await client.query<{ digest: string }>(
        `select count(*) || ':' || md5(string_agg(t::text, E'\\n' order by t::text)) as digest from ${relation} t`,
      );
      result[`relation ${relation}`] = rows.rows[0]!.digest;
    }
    return result;
  } finally {
    await client.end();
  }
}

/** `pg_restore --list`'s entries without their dump ids: what two archives of one database share. */
export function listedEntries(listing: string): string[] {
  return listing
    .split('\n')
    .filter((line) => line !== '' && !line.startsWith(';'))
    .map((line) => line.replace(/^\d+; /, ''));
}
