import type { PgBoss, SendOptions } from 'pg-boss';
import type { Queryable } from '../db/pool.ts';
import { QUEUES, type Payload, type QueueKey } from './queues.ts';

/**
 * Sends a job after checking its payload. With `db`, the job is inserted through that client, so it
 * commits or rolls back with the caller's transaction (a rolled-back provision leaves no job behind).
 */
export async function sendJob<K extends QueueKey>(
  boss: PgBoss,
  key: K,
  payload: Payload<K>,
  options: Omit<SendOptions, 'db'> & { db?: Queryable } = {},
): Promise<string | null> {
  const queue = QUEUES[key];
  const data = queue.payload.parse(payload);
  const { db, ...rest } = options;
  return boss.send(queue.name, data, {
    ...rest,
    ...(db ? { db: bossDb(db) } : {}),
  });
}

/** A client (or a transaction's client) as pg-boss's `db` option, so its call commits or rolls back with the caller's. */
export function bossDb(db: Queryable): {
  executeSql: (text: string, values?: unknown[]) => Promise<{ rows: unknown[] }>;
} {
  return { executeSql: (text, values) => db.query(text, values) };
}
