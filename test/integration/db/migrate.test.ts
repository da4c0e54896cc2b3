import test from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { createTestDatabase } from '../../support/database.ts';
import { migrate } from '../../../src/db/migrate.ts';

test('a cloned test database carries every migration and the pg-boss schema', async () => {
  const url = await createTestDatabase('migrate');
  const client = new pg.Client(url);
  await client.connect();
  try {
    const versions = (await client.query('select version from schema_migrations order by version')).rows.map(
      (r) => r.version,
    );
    assert.ok(versions.includes('0001-create-resources'));
    const boss = await client.query(
      `select 1 from information_schema.tables where table_schema = 'pgboss' and table_name = 'job'`,
    );
    assert.equal(boss.rowCount, 1);
  } finally {
    await client.end();
  }
});

test('migrating twice applies nothing the second time', async () => {
  const url = await createTestDatabase('migrate_twice');
  assert.deepEqual(await migrate(url), []);
});

test('two migrations racing on an empty database apply each file once', async () => {
  const url = await createTestDatabase('migrate_race');
  const client = new pg.Client(url);
  await client.connect();
  await client.query('drop schema public cascade; create schema public');
  await client.end();
  const [a, b] = await Promise.all([migrate(url), migrate(url)]);
  assert.equal(a.length + b.length, a.length > 0 ? a.length : b.length, 'only one runner applies the files');
  assert.ok(a.includes('0001-create-resources') || b.includes('0001-create-resources'));
});
