import type pg from 'pg';

/**
 * Puts a connection into the state pg_dump's own connection is in when it copies table data
 * (pg_dump.c: ConnectDatabase's secure search_path, then setup_connection), for the flags our formats
 * pass (`--quote-all-identifiers`, no `--enable-row-security`, no `--serializable-deferrable`), so
 * every value is printed exactly as pg_dump would print it: dates in ISO, intervals in postgres
 * style, floats with all their digits, the dump's client encoding. Then opens the same kind of
 * transaction: REPEATABLE READ, READ ONLY.
 */
export async function startDumpSession(
  client: pg.Client,
  options: { encoding: string; serverMajor: number },
): Promise<void> {
  if (!/^[A-Za-z0-9_]+$/.test(options.encoding)) throw new Error(`unexpected client encoding "${options.encoding}"`);
  const statements = [
    // ConnectDatabase: ALWAYS_SECURE_SEARCH_PATH_SQL.
    `SELECT pg_catalog.set_config('search_path', '', false)`,
    `SELECT pg_catalog.set_config('client_encoding', '${options.encoding}', false)`,
    'SET DATESTYLE = ISO',
    'SET INTERVALSTYLE = POSTGRES',
    'SET extra_float_digits TO 3',
    'SET synchronize_seqscans TO off',
    'SET statement_timeout = 0',
    'SET lock_timeout = 0',
    'SET idle_in_transaction_session_timeout = 0',
    ...(options.serverMajor >= 17 ? ['SET transaction_timeout = 0'] : []),
    'SET quote_all_identifiers = true',
    'SET row_security = off',
    // What pg_dump passes through PGOPTIONS (dump-command.ts): the backend notices a vanished client.
    ...(options.serverMajor >= 14 ? ['SET client_connection_check_interval = 10000'] : []),
    // pg_dump since the fix for CVE-2024-7348 restricts what its queries may expand; servers with the
    // setting (12.20, 13.16, 14.13, 15.8, 16.4 and later) get the same restriction here.
    `SELECT pg_catalog.set_config('restrict_nonsystem_relation_kind', 'view, foreign-table', false)
     WHERE pg_catalog.current_setting('restrict_nonsystem_relation_kind', true) IS NOT NULL`,
  ];
  // One round trip (a simple query of several statements runs, and commits, as one); a session is
  // set up for every connection a capture opens, so sixteen round trips cost more than the settings.
  await client.query(statements.join(';\n'));
  // pg_dump's BEGIN, then SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY, in one statement.
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
}
