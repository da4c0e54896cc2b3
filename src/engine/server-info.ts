import pg from 'pg';
import { canceled, connectionFailed, isDumpFailure } from './dump-failures.ts';
import { redact } from '../shared/redact.ts';
import { describeConnection, type ConnectionParams } from './source.ts';
import { connectSource } from './source-client.ts';

/** What a run needs to know about the server before it starts pg_dump. */
export interface ServerInfo {
  /** `server_version_num`, e.g. 150018. */
  versionNum: number;
  /** `server_version`, e.g. "15.18 (Debian 15.18-1.pgdg120+1)". */
  version: string;
  /** 15 for 15.x; 9.6 for 9.6.x. */
  major: number;
  /** `pg_database_size`: indexes included, so an upper bound for anything the dump reads. */
  databaseBytes: number;
  /** Heap + TOAST of the tables the dump will copy (`pg_table_size`), the base of the progress estimate. */
  tableBytes: number;
  /** Size of `pg_largeobject`. */
  largeObjectBytes: number;
  /** Tables of at least 1 MiB by `schema.name` as pg_dump's `--verbose` prints them; smaller ones only count in `tableBytes`. */
  tableSizes: Map<string, number>;
  /** Whether schema `heroku_ext` exists; it is excluded from the dump only then. */
  hasHerokuExt: boolean;
}

/** Probe options. */
export interface ProbeOptions {
  connectTimeoutMs?: number;
  signal?: AbortSignal;
}

const SIZED_TABLE_MIN_BYTES = 1024 * 1024;
const SIZED_TABLE_LIMIT = 100_000;

/** Connects once and reads the version, sizes and whether `heroku_ext` exists. */
export async function probeServer(connection: ConnectionParams, options: ProbeOptions = {}): Promise<ServerInfo> {
  if (options.signal?.aborted) throw canceled();
  const client = await connect(connection, options.connectTimeoutMs ?? 10_000);
  const onAbort = () => void client.end().catch(() => {});
  options.signal?.addEventListener('abort', onAbort, { once: true });
  try {
    const head = await client.query<{
      version_num: string;
      version: string;
      database_bytes: string;
      has_heroku_ext: boolean;
      lo_bytes: string;
    }>({
      name: 'dump-probe-server',
      text: `select current_setting('server_version_num') as version_num,
                    current_setting('server_version') as version,
                    pg_database_size(current_database())::text as database_bytes,
                    exists (select 1 from pg_namespace where nspname = 'heroku_ext') as has_heroku_ext,
                    pg_table_size('pg_catalog.pg_largeobject')::text as lo_bytes`,
    });
    const tables = await readTableSizes(client);
    const row = head.rows[0];
    if (!row) throw new Error('the probe query returned no row');
    const versionNum = Number(row.version_num);
    const tableSizes = new Map<string, number>();
    let tableBytes = 0;
    for (const t of tables.rows) {
      if (t.big) tableSizes.set(`${t.schema}.${t.name}`, Number(t.bytes));
      else tableBytes = Number(t.bytes);
    }
    return {
      versionNum,
      version: row.version,
      major: majorFromVersionNum(versionNum),
      databaseBytes: Number(row.database_bytes),
      tableBytes,
      largeObjectBytes: Number(row.lo_bytes),
      tableSizes,
      hasHerokuExt: row.has_heroku_ext,
    };
  } catch (error) {
    if (options.signal?.aborted) throw canceled();
    if (isDumpFailure(error)) throw error;
    throw connectionFailed(
      `could not read the server's version and size at ${describeConnection(connection)}: ${redact((error as Error).message, [connection.password.reveal()])}`,
      true,
    );
  } finally {
    options.signal?.removeEventListener('abort', onAbort);
    await client.end().catch(() => {});
  }
}

const SIZED_TABLES_SQL = (bytes: string) => `
  with sized as (
    select n.nspname as schema, c.relname as name, ${bytes} as bytes
    from pg_class c join pg_namespace n on n.oid = c.relnamespace left join pg_class t on t.oid = c.reltoastrelid
    where c.relkind = 'r' and n.nspname <> all ($1::text[]) and n.nspname not like 'pg\\_temp\\_%' and n.nspname not like 'pg\\_toast%')
  select 'all' as schema, '' as name, coalesce(sum(bytes), 0)::text as bytes, false as big from sized
  union all
  (select schema, name, bytes::text, true from sized where bytes >= $2 order by bytes desc limit $3)`;

/**
 * Exact sizes need each table's lock, so a session holding ACCESS EXCLUSIVE (a long ALTER) would hold
 * the probe too; past a short wait, fall back to the planner's page counts, which need no lock.
 */
async function readTableSizes(
  client: pg.Client,
): Promise<pg.QueryResult<{ schema: string; name: string; bytes: string; big: boolean }>> {
  const values = [['pg_catalog', 'information_schema', 'heroku_ext'], SIZED_TABLE_MIN_BYTES, SIZED_TABLE_LIMIT];
  try {
    await client.query(`set lock_timeout = '1s'`);
    return await client.query({
      name: 'dump-probe-table-sizes',
      text: SIZED_TABLES_SQL('pg_table_size(c.oid)'),
      values,
    });
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code !== '55P03' && code !== '57014') throw error; // lock_not_available, query_canceled (statement_timeout)
    const estimate = `(c.relpages::bigint + coalesce(t.relpages, 0)) * current_setting('block_size')::bigint`;
    return await client.query({ name: 'dump-probe-table-pages', text: SIZED_TABLES_SQL(estimate), values });
  }
}

/** 150018 → 15, 90624 → 9.6 (before 10 the major had two parts). */
export function majorFromVersionNum(versionNum: number): number {
  if (versionNum >= 100_000) return Math.floor(versionNum / 10_000);
  return Math.floor(versionNum / 10_000) + Math.floor((versionNum % 10_000) / 100) / 10;
}

async function connect(connection: ConnectionParams, timeoutMs: number): Promise<pg.Client> {
  return connectSource(connection, { timeoutMs, statementTimeoutMs: 60_000, applicationName: 'big-backup probe' });
}
