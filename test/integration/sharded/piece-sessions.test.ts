import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { directSource, openPieceSession, type PieceSession } from '../../../src/engine/index.ts';
import { PieceSessionPool } from '../../../src/jobs/sharded/piece-sessions.ts';
import {
  LOOPBACK_ALLOWED,
  seedSourceDatabase,
  startSourceServer,
  type SourceServer,
} from '../../support/seed-source.ts';

// The worker's pool of source sessions between one attempt's pieces, on real connections.
let server: SourceServer;
let url: string;
before(async () => {
  server = await startSourceServer(undefined, { tls: false });
  url = await seedSourceDatabase(server, 'pool');
});
after(() => server?.stop());

const open = (): Promise<PieceSession> =>
  openPieceSession({
    source: directSource(url),
    plan: { encoding: 'UTF8', serverMajor: 15 },
    hosts: LOOPBACK_ALLOWED,
  });

test('a session given back is taken again by the same attempt only, and closed once idle too long', async () => {
  const pool = new PieceSessionPool({ idleMs: 300 });
  const session = await open();
  pool.give('b1/1', session);
  assert.equal(pool.take('b1/2'), null, 'another attempt does not get it');
  assert.equal(pool.take('b1/1'), session);
  assert.equal(pool.take('b1/1'), null, 'taken once');
  await session.client.query('select 1');
  pool.give('b1/1', session);
  await new Promise((resolve) => setTimeout(resolve, 600));
  assert.equal(session.closed, true, 'closed after idling');
  assert.equal(pool.take('b1/1'), null);
  assert.equal(pool.size, 0);
  await pool.close();
});

test('a closed session is never handed out, and closing the pool closes the idle ones and any given back later', async () => {
  const pool = new PieceSessionPool();
  const [dead, idle, late] = await Promise.all([open(), open(), open()]);
  pool.give('b2/1', dead);
  pool.give('b2/1', idle);
  await dead.close();
  const taken = pool.take('b2/1');
  assert.equal(taken, idle);
  pool.give('b2/1', idle);
  await pool.close();
  assert.equal(idle.closed, true);
  pool.give('b2/1', late);
  assert.equal(late.closed, true, 'given back after the pool closed: closed at once');
  assert.equal(pool.size, 0);
});
