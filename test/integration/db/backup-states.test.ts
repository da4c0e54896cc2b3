import test from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase } from '../../support/database.ts';
import { ACTIVE_BACKUP_STATES } from '../../../src/backups/backup.ts';
import { sqlList } from '../../../src/db/sql-list.ts';
import { listUnfinishedSince } from '../../../src/backups/backups.repo.ts';

test('the unfinished-backup states in code are the ones the partial index backups_unfinished covers', async () => {
  const client = new pg.Client(await createTestDatabase('backup_states'));
  await client.connect();
  try {
    const index = await client.query<{ predicate: string }>(
      `select pg_get_expr(indpred, indrelid) as predicate from pg_index where indexrelid = 'backups_unfinished'::regclass`,
    );
    const covered = [...index.rows[0]!.predicate.matchAll(/'([a-z_]+)'/g)].map((m) => m[1]).sort();
    assert.deepEqual(covered, [...ACTIVE_BACKUP_STATES].sort());
    // The janitor's statement names the same list, so the planner can prove the index applies.
    await client.query('set enable_seqscan = off');
    const plan = await client.query(
      `explain select id from backups where state in ${sqlList(ACTIVE_BACKUP_STATES)} and updated_at < now()`,
    );
    assert.match(plan.rows.map((r) => r['QUERY PLAN']).join('\n'), /backups_unfinished/);
    assert.deepEqual(await listUnfinishedSince(client, new Date()), []);
  } finally {
    await client.end();
  }
});

test('a SQL list is built only from plain words', () => {
  assert.equal(sqlList(['pending', 'running']), `('pending', 'running')`);
  assert.throws(() => sqlList(["x'); drop table backups; --"]), /not a plain word/);
  assert.throws(() => sqlList(['']), /not a plain word/);
});
