import type { Queryable } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { SEALED } from '../heroku/partner-authorization.ts';
import { CONNECT_SEALED } from '../heroku/connect-authorization.ts';
import { SEALED_URL } from '../backups/sources.repo.ts';
import { SEALED_LOG_INPUT } from '../notifications/log-inputs.repo.ts';
import { SEALED_WEBHOOK_SECRET } from '../notifications/webhooks.repo.ts';
import {
  countValuesByKey,
  listCiphertextColumns,
  listValuesNotUnderKey,
  replaceSealedValue,
  type SealedColumn,
} from './sealed-values.repo.ts';

/** Every sealed column and the purpose its values are bound to (part of each ciphertext's authenticated data). */
export const SEALED_COLUMNS: ReadonlyArray<SealedColumn & { purpose: string }> = [
  { table: 'heroku_authorizations', column: 'grant_code_ciphertext', purpose: SEALED.grantCode },
  { table: 'heroku_authorizations', column: 'access_token_ciphertext', purpose: SEALED.access },
  { table: 'heroku_authorizations', column: 'refresh_token_ciphertext', purpose: SEALED.refresh },
  { table: 'heroku_connections', column: 'access_token_ciphertext', purpose: CONNECT_SEALED.access },
  { table: 'heroku_connections', column: 'refresh_token_ciphertext', purpose: CONNECT_SEALED.refresh },
  { table: 'backup_sources', column: 'url_ciphertext', purpose: SEALED_URL },
  { table: 'resource_log_inputs', column: 'url_ciphertext', purpose: SEALED_LOG_INPUT },
  { table: 'webhooks', column: 'secret_ciphertext', purpose: SEALED_WEBHOOK_SECRET, ownerColumn: 'id' },
];

/** Values read and re-sealed per query. */
const BATCH = 200;

/** What a re-seal pass did, and what is still sealed under a key other than the newest. */
export interface ResealReport {
  /** Values now sealed under the newest key that were not before. */
  resealed: number;
  /** Values a writer replaced between our read and our write (theirs is kept: it is sealed under the newest key). */
  changedMeanwhile: number;
  /** Values no configured key could open (or bound to another owner): logged each, left as they are. */
  unreadable: number;
  /**
   * Per older key still configured (`ENCRYPTION_KEY entry 2`, …), and per key id that is not
   * configured at all, how many values it still seals. A key whose count is 0 can be removed.
   */
  remaining: Array<{ key: string; keyId: string; values: number }>;
  /** `*_ciphertext` columns of the schema this pass does not know: a bug to fix in SEALED_COLUMNS. */
  unlistedColumns: string[];
}

/**
 * Re-seals every value that is not sealed under the newest ENCRYPTION_KEY: opened with the key that
 * sealed it, sealed again with the first, written back only if unchanged since it was read. Safe to
 * run again at any time and beside writers; stops early (still reporting) when `signal` aborts.
 */
export async function resealSealedValues(
  deps: { pool: Queryable; secrets: SecretBox; logger: Logger },
  options: { signal?: AbortSignal; batchSize?: number } = {},
): Promise<ResealReport> {
  const { pool, secrets, logger } = deps;
  const batchSize = options.batchSize ?? BATCH;
  let resealed = 0;
  let changedMeanwhile = 0;
  let unreadable = 0;
  for (const sealedColumn of SEALED_COLUMNS) {
    let after: string | null = null;
    for (;;) {
      if (options.signal?.aborted) break;
      const batch = await listValuesNotUnderKey(pool, sealedColumn, secrets.currentKeyId, after, batchSize);
      for (const { resourceId, sealed } of batch) {
        let next: string;
        try {
          next = secrets.reseal(sealed, resourceId, sealedColumn.purpose);
        } catch (error) {
          unreadable++;
          logger.error(
            { err: error, table: sealedColumn.table, column: sealedColumn.column, resourceId },
            'a sealed value cannot be opened with any configured key',
          );
          continue;
        }
        if (await replaceSealedValue(pool, sealedColumn, resourceId, sealed, next)) resealed++;
        else changedMeanwhile++;
      }
      if (batch.length < batchSize) break;
      after = batch.at(-1)!.resourceId;
    }
  }
  return { resealed, changedMeanwhile, unreadable, ...(await whatRemains(deps)) };
}

async function whatRemains(deps: {
  pool: Queryable;
  secrets: SecretBox;
}): Promise<Pick<ResealReport, 'remaining' | 'unlistedColumns'>> {
  const { keyIds, currentKeyId } = deps.secrets;
  const counts = new Map<string, number>();
  for (const sealedColumn of SEALED_COLUMNS)
    for (const [keyId, values] of await countValuesByKey(deps.pool, sealedColumn))
      counts.set(keyId, (counts.get(keyId) ?? 0) + values);
  const remaining = keyIds.flatMap((keyId, index) =>
    keyId === currentKeyId ? [] : [{ key: `ENCRYPTION_KEY entry ${index + 1}`, keyId, values: counts.get(keyId) ?? 0 }],
  );
  for (const [keyId, values] of counts)
    if (!keyIds.includes(keyId)) remaining.push({ key: 'not in ENCRYPTION_KEY', keyId, values });
  const listed = new Set(SEALED_COLUMNS.map((c) => `${c.table}.${c.column}`));
  const unlistedColumns = (await listCiphertextColumns(deps.pool))
    .map((c) => `${c.table}.${c.column}`)
    .filter((name) => !listed.has(name));
  return { remaining, unlistedColumns };
}
