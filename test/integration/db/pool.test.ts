import test from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { createPool, withTransaction } from '../../../src/db/pool.ts';
import { startSourceServer } from '../../support/seed-source.ts';

test('a transaction whose connection is cut (a failover) rejects, and the process and the pool carry on', async () => {
  const server = await startSourceServer();
  const pool = createPool(server.url('postgres'), 2);
  const admin = new pg.Client(server.url('postgres'));
  await admin.connect();
  try {
    const cut = withTransaction(pool, async (tx) => {
      const pid = (await tx.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
      await admin.query('select pg_terminate_backend($1)', [pid]);
      // Waiting on something else (S3, Heroku) while the connection goes: the client emits 'error'.
      await sleep(300);
      await tx.query('select 1');
    });
    await assert.rejects(cut, /terminat|not queryable|Connection/i);
    const after = await withTransaction(
      pool,
      async (tx) => (await tx.query<{ one: number }>('select 1 as one')).rows[0]!.one,
    );
    assert.equal(after, 1, 'the next transaction gets a working connection');
  } finally {
    await admin.end();
    await pool.end();
    await server.stop();
  }
});
