import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { dropLeftoverSimulatorDatabases } from '../../../dev/embedded/leftover-databases.ts';
import { startSourceServer } from '../../support/seed-source.ts';

// A server of its own: the sweep drops every simulator-named database on the server it is given.
const server = await startSourceServer();
after(() => server.stop());

async function databases(): Promise<string[]> {
  const client = new pg.Client(server.cluster.url);
  await client.connect();
  try {
    return (await client.query<{ datname: string }>('select datname from pg_database')).rows.map((r) => r.datname);
  } finally {
    await client.end();
  }
}

test('at start, the embedded default drops the forks and databases an earlier simulator left, and nothing else', async () => {
  const orphans = ['sim_fork_0123456789ab', 'sim_db_ba9876543210'];
  const others = ['sim_fork_0123', 'demo_shop', 'big_backup'];
  for (const name of [...orphans, ...others]) await server.run('postgres', `create database "${name}"`);

  const dropped = await dropLeftoverSimulatorDatabases(server.cluster.url);
  assert.deepEqual([...dropped].sort(), [...orphans].sort());
  const left = await databases();
  for (const name of orphans) assert.ok(!left.includes(name), `${name} is gone`);
  for (const name of others) assert.ok(left.includes(name), `${name} is kept`);
});
