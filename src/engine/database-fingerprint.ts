import type pg from 'pg';

/**
 * What a restore drill compares between the reference database (the fork the archive was dumped
 * from) and the database restored from the archive. Both sides are read by the same queries, so every
 * value is computed the same way on both.
 */
export interface DatabaseFingerprint {
  /** `schema.table` of every ordinary table: its row count and an order-independent content checksum. */
  tables: Map<string, { rows: string; checksum: string }>;
  /** `schema.sequence` → its last value (`null` before the first nextval). */
  sequences: Map<string, string>;
  /** Names (and definitions, where they are short) of the objects whose list must match, by kind. */
  objects: Record<SchemaObjectKind, string[]>;
}

export type SchemaObjectKind = 'schema' | 'table' | 'index' | 'constraint' | 'view' | 'function';

// Not the customer's: the catalogues, and Heroku's extension schema, which the dump leaves out (design.md).
const SYSTEM_SCHEMA = `(nspname in ('pg_catalog', 'information_schema', 'heroku_ext') or nspname like 'pg\\_toast%' or nspname like 'pg\\_temp\\_%')`;

/**
 * The per-table content checksum: the sum, as an exact numeric, of a signed 64-bit hash of each row's
 * text form (the first 16 hex digits of md5 of `row::text`). A sum does not depend on row order, and
 * two tables with the same rows (duplicates included) have the same sum.
 */
const TABLE_CHECKSUM = (table: string) =>
  `select count(*)::text as rows,
     coalesce(sum(('x' || left(md5(t::text), 16))::bit(64)::bigint::numeric), 0)::text as checksum
   from only ${table} t`;

/** The name large objects are compared under, beside the tables. */
export const LARGE_OBJECTS = '(large objects)';

/** Reads a database's fingerprint through `client` (one table at a time; a full scan of each). */
export async function fingerprintDatabase(
  client: pg.Client,
  options: { signal?: AbortSignal } = {},
): Promise<DatabaseFingerprint> {
  const list = async (sql: string) => (await client.query<{ v: string }>(sql)).rows.map((r) => r.v).sort();
  const objects: DatabaseFingerprint['objects'] = {
    schema: await list(`select nspname as v from pg_namespace where not ${SYSTEM_SCHEMA}`),
    table: await list(
      `select n.nspname || '.' || c.relname || ' (' || c.relkind::text || ')' as v from pg_class c
       join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('r', 'p') and not ${SYSTEM_SCHEMA}`,
    ),
    index: await list(`select schemaname || '.' || indexname || ': ' || indexdef as v from pg_indexes
       where schemaname not in ('pg_catalog', 'information_schema', 'heroku_ext') and schemaname not like 'pg\\_toast%'`),
    constraint: await list(
      `select n.nspname || '.' || cl.relname || '.' || co.conname || ': ' || pg_get_constraintdef(co.oid) as v
       from pg_constraint co join pg_class cl on cl.oid = co.conrelid join pg_namespace n on n.oid = cl.relnamespace
       where not ${SYSTEM_SCHEMA}`,
    ),
    view: await list(
      `select n.nspname || '.' || c.relname || ' (' || c.relkind::text || ') ' || md5(pg_get_viewdef(c.oid)) as v
       from pg_class c join pg_namespace n on n.oid = c.relnamespace where c.relkind in ('v', 'm') and not ${SYSTEM_SCHEMA}`,
    ),
    function: await list(
      `select n.nspname || '.' || p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ') ' || md5(coalesce(p.prosrc, '')) as v
       from pg_proc p join pg_namespace n on n.oid = p.pronamespace where not ${SYSTEM_SCHEMA}`,
    ),
  };
  const sequences = new Map(
    (
      await client.query<{ name: string; value: string | null }>(
        `select schemaname || '.' || sequencename as name, last_value::text as value from pg_sequences
         where schemaname not in ('pg_catalog', 'information_schema', 'heroku_ext')`,
      )
    ).rows.map((r) => [r.name, r.value ?? 'null'] as const),
  );
  const tables = new Map<string, { rows: string; checksum: string }>();
  const names = await client.query<{ schema: string; name: string }>(
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind = 'r' and not ${SYSTEM_SCHEMA} order by 1, 2`,
  );
  for (const { schema, name } of names.rows) {
    options.signal?.throwIfAborted();
    const table = `${client.escapeIdentifier(schema)}.${client.escapeIdentifier(name)}`;
    const { rows } = await client.query<{ rows: string; checksum: string }>(TABLE_CHECKSUM(table));
    tables.set(`${schema}.${name}`, rows[0]!);
  }
  // Large objects, as one more "table": each object's oid and content, hashed the same way.
  const largeObjects = await client.query<{ rows: string }>(
    'select count(*)::text as rows from pg_largeobject_metadata',
  );
  if (largeObjects.rows[0]!.rows !== '0') {
    try {
      const { rows } = await client.query<{ rows: string; checksum: string }>(
        `select count(*)::text as rows,
           coalesce(sum(('x' || left(md5(m.oid::text || ':' || md5(lo_get(m.oid))), 16))::bit(64)::bigint::numeric), 0)::text as checksum
         from pg_largeobject_metadata m`,
      );
      tables.set(LARGE_OBJECTS, rows[0]!);
    } catch {
      // Not readable by this role: compare how many there are.
      tables.set(LARGE_OBJECTS, { rows: largeObjects.rows[0]!.rows, checksum: 'not readable' });
    }
  }
  return { tables, sequences, objects };
}
