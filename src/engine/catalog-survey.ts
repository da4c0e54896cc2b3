import type pg from 'pg';
import type { HostPolicy } from '../net/host-guard.ts';
import { majorFromVersionNum } from './server-info.ts';
import { connectSource } from './source-client.ts';
import { guardConnection } from './source-guard.ts';
import type { ConnectionParams } from './source.ts';

/** One table as the survey reports it. */
export interface SurveyedTable {
  schema: string;
  name: string;
  /** Heap + TOAST (`pg_table_size`), or the planner's page count when a lock was not granted at once. */
  bytes: number;
}

/** A role that holds privileges on, or owns, objects of the database (not the role the survey connected as). */
export interface SurveyedRole {
  name: string;
  /** Privileges granted to it (one per object and privilege). */
  grants: number;
  /** Tables, schemas and functions it owns. */
  owns: number;
}

/** The parts of the survey; a part whose query failed is named in `unavailable` and left out. */
export type SurveySection = 'server' | 'counts' | 'tables' | 'unlogged' | 'heroku_ext' | 'roles';

/**
 * What the pre-flight report needs to know about a database, read from its catalog: no table is read,
 * every size is the catalog's. Each section is read on its own, so one refused query (a revoked
 * function, a timeout) leaves the others.
 */
export interface DatabaseSurvey {
  server?: {
    versionNum: number;
    /** `server_version`, e.g. "15.18 (Debian 15.18-1.pgdg120+1)". */
    version: string;
    major: number;
    /** `pg_database_size`: indexes included. */
    databaseBytes: number;
  };
  counts?: {
    /** Ordinary and partitioned tables outside the system schemas and `heroku_ext`. */
    tables: number;
    /** Schemas pg_dump dumps: every one but the system schemas, `heroku_ext` and temporary ones. */
    schemas: number;
    largeObjects: number;
    /** `pg_largeobject`'s size. */
    largeObjectBytes: number;
  };
  tables?: {
    /** Heap + TOAST of every table counted. */
    totalBytes: number;
    /** The largest, biggest first. */
    largest: SurveyedTable[];
  };
  unlogged?: SurveyedTable[];
  /** Extensions installed in schema `heroku_ext`, with their versions; empty when there is none. */
  herokuExt?: Array<{ name: string; version: string }>;
  roles?: SurveyedRole[];
  unavailable: Array<{ section: SurveySection; problem: string }>;
}

/** Survey options. */
export interface SurveyOptions {
  hosts?: HostPolicy;
  connectTimeoutMs?: number;
  /** Each query's limit on the server (and, a little later, on the client). */
  statementTimeoutMs?: number;
  /** How many of the largest tables to list. */
  largestTables?: number;
}

const SYSTEM_SCHEMAS = ['pg_catalog', 'information_schema', 'heroku_ext'];
const MAX_LISTED = 50;

/**
 * Connects to the database (host checked against the policy, as for pg_dump) and reads its catalog:
 * version and size, table/schema/large-object counts, the largest tables, unlogged tables, extensions
 * in `heroku_ext`, and roles holding privileges. Read-only; fails only when it cannot connect.
 */
export async function surveyDatabase(
  connection: ConnectionParams,
  options: SurveyOptions = {},
): Promise<DatabaseSurvey> {
  const guarded = await guardConnection(connection, options.hosts);
  const statementTimeoutMs = options.statementTimeoutMs ?? 15_000;
  const client = await connectSource(guarded, {
    timeoutMs: options.connectTimeoutMs ?? 10_000,
    statementTimeoutMs,
    queryTimeoutMs: statementTimeoutMs + 5000,
    applicationName: 'big-backup preflight',
  });
  const survey: DatabaseSurvey = { unavailable: [] };
  const section = async (name: SurveySection, read: () => Promise<unknown>) => {
    try {
      await read();
    } catch (error) {
      survey.unavailable.push({ section: name, problem: problemOf(error) });
    }
  };
  try {
    await client.query(`set default_transaction_read_only = on; set lock_timeout = '1s'`);
    await section('server', async () => (survey.server = await readServer(client)));
    await section('counts', async () => (survey.counts = await readCounts(client)));
    await section('tables', async () => (survey.tables = await readTables(client, options.largestTables ?? 10)));
    await section('unlogged', async () => (survey.unlogged = await readUnlogged(client)));
    await section('heroku_ext', async () => (survey.herokuExt = await readHerokuExt(client)));
    await section('roles', async () => (survey.roles = await readRoles(client)));
  } finally {
    await client.end().catch(() => {});
  }
  return survey;
}

async function readServer(client: pg.Client): Promise<NonNullable<DatabaseSurvey['server']>> {
  const { rows } = await client.query<{ version_num: string; version: string; database_bytes: string }>(
    `select current_setting('server_version_num') as version_num, current_setting('server_version') as version,
            pg_database_size(current_database())::text as database_bytes`,
  );
  const row = rows[0]!;
  const versionNum = Number(row.version_num);
  return {
    versionNum,
    version: row.version,
    major: majorFromVersionNum(versionNum),
    databaseBytes: Number(row.database_bytes),
  };
}

async function readCounts(client: pg.Client): Promise<NonNullable<DatabaseSurvey['counts']>> {
  const { rows } = await client.query<{ tables: string; schemas: string; los: string; lo_bytes: string }>(
    `select (select count(*) from pg_class c join pg_namespace n on n.oid = c.relnamespace
              where c.relkind in ('r', 'p') and n.nspname <> all ($1::text[])
                and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%')::text as tables,
            (select count(*) from pg_namespace n where n.nspname <> all ($1::text[])
                and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%')::text as schemas,
            (select count(*) from pg_largeobject_metadata)::text as los,
            pg_table_size('pg_catalog.pg_largeobject')::text as lo_bytes`,
    [SYSTEM_SCHEMAS],
  );
  const row = rows[0]!;
  return {
    tables: Number(row.tables),
    schemas: Number(row.schemas),
    largeObjects: Number(row.los),
    largeObjectBytes: Number(row.lo_bytes),
  };
}

const TABLES_SQL = (bytes: string) => `
  with sized as (
    select n.nspname as schema, c.relname as name, ${bytes} as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace left join pg_class t on t.oid = c.reltoastrelid
    where c.relkind = 'r' and n.nspname <> all ($1::text[])
      and n.nspname not like 'pg\\_toast%' and n.nspname not like 'pg\\_temp\\_%')
  select '' as schema, '' as name, coalesce(sum(bytes), 0)::text as bytes, false as listed from sized
  union all
  (select schema, name, bytes::text, true from sized order by bytes desc, schema, name limit $2)`;

/** Exact sizes take each table's lock; past a second's wait, the planner's page counts, which need none. */
async function readTables(client: pg.Client, limit: number): Promise<NonNullable<DatabaseSurvey['tables']>> {
  let result: pg.QueryResult<{ schema: string; name: string; bytes: string; listed: boolean }>;
  try {
    result = await client.query({ text: TABLES_SQL('pg_table_size(c.oid)'), values: [SYSTEM_SCHEMAS, limit] });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '55P03' && code !== '57014') throw error;
    const pages = `(c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint`;
    result = await client.query({ text: TABLES_SQL(pages), values: [SYSTEM_SCHEMAS, limit] });
  }
  const total = result.rows.find((r) => !r.listed);
  return {
    totalBytes: Number(total?.bytes ?? 0),
    largest: result.rows
      .filter((r) => r.listed)
      .map((r) => ({ schema: r.schema, name: r.name, bytes: Number(r.bytes) })),
  };
}

async function readUnlogged(client: pg.Client): Promise<SurveyedTable[]> {
  const { rows } = await client.query<{ schema: string; name: string; bytes: string }>(
    `select n.nspname as schema, c.relname as name,
            ((c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint)::text as bytes
     from pg_class c join pg_namespace n on n.oid = c.relnamespace left join pg_class t on t.oid = c.reltoastrelid
     where c.relkind in ('r', 'p') and c.relpersistence = 'u' and n.nspname <> all ($1::text[])
     order by n.nspname, c.relname limit $2`,
    [SYSTEM_SCHEMAS, MAX_LISTED],
  );
  return rows.map((r) => ({ schema: r.schema, name: r.name, bytes: Number(r.bytes) }));
}

async function readHerokuExt(client: pg.Client): Promise<Array<{ name: string; version: string }>> {
  const { rows } = await client.query<{ name: string; version: string }>(
    `select e.extname as name, e.extversion as version
     from pg_extension e join pg_namespace n on n.oid = e.extnamespace
     where n.nspname = 'heroku_ext' order by e.extname`,
  );
  return rows;
}

/**
 * Roles other than the one connected that hold privileges on (from the ACLs of tables, schemas,
 * functions and the database) or own objects of this database; PUBLIC and the built-in `pg_*` roles
 * are left out.
 */
async function readRoles(client: pg.Client): Promise<SurveyedRole[]> {
  const { rows } = await client.query<{ name: string; grants: string; owns: string }>(
    `with user_namespaces as (
       select oid, nspname, nspowner, nspacl from pg_namespace
       where nspname <> all ($1::text[]) and nspname not like 'pg\\_%'
     ), granted as (
       select (aclexplode(c.relacl)).grantee as role from pg_class c
         where c.relacl is not null and c.relnamespace in (select oid from user_namespaces)
       union all
       select (aclexplode(nspacl)).grantee from user_namespaces where nspacl is not null
       union all
       select (aclexplode(p.proacl)).grantee from pg_proc p
         where p.proacl is not null and p.pronamespace in (select oid from user_namespaces)
       union all
       select (aclexplode(datacl)).grantee from pg_database where datname = current_database() and datacl is not null
     ), owned as (
       select relowner as role from pg_class where relkind in ('r', 'p', 'v', 'm', 'S', 'f')
         and relnamespace in (select oid from user_namespaces)
       union all
       select nspowner from user_namespaces
       union all
       select proowner from pg_proc where pronamespace in (select oid from user_namespaces)
     ), counted as (
       select role, count(*) as grants, 0 as owns from granted group by role
       union all
       select role, 0, count(*) from owned group by role
     )
     select r.rolname as name, sum(counted.grants)::text as grants, sum(counted.owns)::text as owns
     from counted join pg_roles r on r.oid = counted.role
     where r.rolname <> current_user and r.rolname not like 'pg\\_%'
     group by r.rolname order by r.rolname limit $2`,
    [SYSTEM_SCHEMAS, MAX_LISTED],
  );
  return rows.map((r) => ({ name: r.name, grants: Number(r.grants), owns: Number(r.owns) }));
}

/** The server's SQLSTATE and first line, which name no address or password: for the report's "could not read". */
function problemOf(error: unknown): string {
  const { code, message } = (error ?? {}) as { code?: string; message?: string };
  const line = (message ?? 'unknown error').split('\n')[0]!.slice(0, 200);
  return code ? `${line} (SQLSTATE ${code})` : line;
}
