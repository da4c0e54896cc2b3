import pg from 'pg';

/** Anything that runs a parameterised statement: the pool or a client inside a transaction. */
export interface Queryable {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** A pool of connections to our own database. */
export function createPool(connectionString: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString, max, idleTimeoutMillis: 30_000, connectionTimeoutMillis: 10_000 });
  // An idle client losing its connection must not crash the process; the next checkout reconnects.
  pool.on('error', () => {});
  // Nor may a checked-out one (a failover ends every connection, a transaction may be waiting on S3 or
  // Heroku): the pool stops listening while a client is out, and an 'error' with no listener throws.
  // The statement in flight rejects with the error anyway, and the pool discards the client on release.
  pool.on('connect', (client) => {
    client.on('error', () => {});
  });
  return pool;
}

/** Answers once the database runs a statement (the health check). */
export async function ping(db: Queryable): Promise<void> {
  await db.query('select 1');
}

/** Runs `fn` in one transaction on one client, committing on success and rolling back on any error. */
export async function withTransaction<T>(pool: pg.Pool, fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    const result = await fn(client);
    await client.query('commit');
    return result;
  } catch (error) {
    await client.query('rollback').catch(() => {});
    throw error;
  } finally {
    client.release();
  }
}
