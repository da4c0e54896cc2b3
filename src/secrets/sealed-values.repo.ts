import type { Queryable } from '../db/pool.ts';

/**
 * A column of sealed values (secret-box.ts): the table's primary key, a uuid, is each value's owner,
 * `resource_id` unless `ownerColumn` names another (a webhook's secret is bound to the webhook's id).
 */
export interface SealedColumn {
  table: string;
  column: string;
  ownerColumn?: string;
}

/** One sealed value, as read for re-sealing. */
export interface SealedValue {
  resourceId: string;
  sealed: string;
}

const IDENTIFIER = /^[a-z_]+$/;

/** The column as SQL; names come from a constant list, checked here anyway since they are not parameters. */
function identifiers({ table, column, ownerColumn = 'resource_id' }: SealedColumn): {
  table: string;
  column: string;
  owner: string;
} {
  if (!IDENTIFIER.test(table) || !IDENTIFIER.test(column) || !IDENTIFIER.test(ownerColumn))
    throw new Error(`not a column name: ${table}.${column}`);
  return { table, column, owner: ownerColumn };
}

/**
 * Up to `limit` values of the column not sealed under `currentKeyId`, in resource-id order after
 * `afterResourceId`, so a pass visits each row once even when some cannot be re-sealed.
 */
export async function listValuesNotUnderKey(
  db: Queryable,
  sealedColumn: SealedColumn,
  currentKeyId: string,
  afterResourceId: string | null,
  limit: number,
): Promise<SealedValue[]> {
  const { table, column, owner } = identifiers(sealedColumn);
  const result = await db.query<{ resource_id: string; sealed: string }>(
    `select ${owner} as resource_id, ${column} as sealed from ${table}
     where ${column} is not null and split_part(${column}, '.', 2) <> $1
       and ($2::uuid is null or ${owner} > $2::uuid)
     order by ${owner} limit $3`,
    [currentKeyId, afterResourceId, limit],
  );
  return result.rows.map((row) => ({ resourceId: row.resource_id, sealed: row.sealed }));
}

/**
 * Replaces one value only if it is still the one read (compare and set): a writer that stored a new
 * value meanwhile wins, and nothing of theirs is overwritten. True when it was replaced.
 */
export async function replaceSealedValue(
  db: Queryable,
  sealedColumn: SealedColumn,
  resourceId: string,
  previous: string,
  next: string,
): Promise<boolean> {
  const { table, column, owner } = identifiers(sealedColumn);
  const result = await db.query(`update ${table} set ${column} = $3 where ${owner} = $1 and ${column} = $2`, [
    resourceId,
    previous,
    next,
  ]);
  return result.rowCount === 1;
}

/** How many values of the column each key id sealed. */
export async function countValuesByKey(db: Queryable, sealedColumn: SealedColumn): Promise<Map<string, number>> {
  const { table, column } = identifiers(sealedColumn);
  const result = await db.query<{ key_id: string; values: number }>(
    `select split_part(${column}, '.', 2) as key_id, count(*)::int as values from ${table}
     where ${column} is not null group by 1`,
  );
  return new Map(result.rows.map((row) => [row.key_id, row.values]));
}

/** Every `*_ciphertext` column of our schema, so a sealed column missing from the re-seal list is noticed. */
export async function listCiphertextColumns(db: Queryable): Promise<SealedColumn[]> {
  const result = await db.query<{ table_name: string; column_name: string }>(
    `select table_name, column_name from information_schema.columns
     where table_schema = current_schema() and column_name like '%\\_ciphertext' order by 1, 2`,
  );
  return result.rows.map((row) => ({ table: row.table_name, column: row.column_name }));
}
