import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buffer as readAll } from 'node:stream/consumers';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { captureSharded, directSource, planShardedCapture, type ShardPlan } from '../../../src/engine/index.ts';
import { pieceQuery } from '../../../src/engine/sharded/copy-statement.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';
import {
  LOOPBACK_ALLOWED,
  listArchive,
  restoreArchive,
  startSourceServer,
  type SourceServer,
} from '../../support/seed-source.ts';
import {
  fullFingerprint,
  listedEntries,
  restoreFromFile,
  seedShardedDatabase,
  stockDump,
} from '../../support/sharded-source.ts';

let server: SourceServer;
let s3: TestS3Server;
let source: string;
let expected: Record<string, string>;
let stockListing: string[];
const root = mkdtempSync(path.join(os.tmpdir(), 'bb-sharded-'));
/** public.big is about 13 MB of heap: at this split size it becomes at least 3 ctid ranges. */
const SPLIT = 3 * 1024 * 1024;
/** Our default format's flags, as stock pg_dump takes them. */
const FLAGS = [
  '-Fc',
  '--compress=2',
  '--no-acl',
  '--no-owner',
  '--quote-all-identifiers',
  '--exclude-schema=heroku_ext',
];

before(async () => {
  [server, s3] = await Promise.all([startSourceServer(), startS3Server()]);
  source = await seedShardedDatabase(server, 'fork', 100_000);
  const stock = await stockDump(source, FLAGS);
  stockListing = listedEntries(await listArchive(stock));
  // The reference: what stock pg_dump -Fc restores to.
  expected = await fullFingerprint(await restoreArchive(server, 'stock_restored', stock));
});
after(async () => {
  await Promise.all([server?.stop(), s3?.close()]);
  rmSync(root, { recursive: true, force: true });
});

/** The most relation locks one piece session holds right now (0 with none). */
async function mostLocksOfAPieceSession(): Promise<number> {
  const client = new pg.Client(source);
  await client.connect();
  try {
    const { rows } = await client.query<{ most: number }>(
      `select coalesce(max(n), 0)::int as most from (
         select count(*) as n from pg_locks l join pg_stat_activity a using (pid)
         where a.application_name = 'big-backup piece' and l.locktype = 'relation' group by l.pid) per_session`,
    );
    return rows[0]!.most;
  } finally {
    await client.end();
  }
}

/** Waits (up to 10 s) until no piece session is connected; returns how many are left. */
async function pieceSessionsLeft(database: string): Promise<number> {
  const client = new pg.Client(database);
  await client.connect();
  try {
    for (let i = 0; ; i++) {
      const { rows } = await client.query<{ n: number }>(
        `select count(*)::int as n from pg_stat_activity where application_name = 'big-backup piece'`,
      );
      if (rows[0]!.n === 0 || i >= 100) return rows[0]!.n;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  } finally {
    await client.end();
  }
}

async function withStore<T>(url: string, env: Record<string, string>, work: (store: ObjectStore) => Promise<T>) {
  const store = await openObjectStore(url, env);
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

describe('sharded capture', () => {
  test('the plan cuts the big table into ctid ranges run as TID range scans, one piece for the large objects', async () => {
    const { plan } = await planShardedCapture(directSource(source), {
      format: 'default',
      splitSizeBytes: SPLIT,
      static: true,
      hosts: LOOPBACK_ALLOWED,
    });
    assert.equal(plan.mode, 'sharded', plan.modeReason);
    const big = plan.pieces.filter((p) => p.table === 'big').sort((a, b) => a.part - b.part);
    assert.ok(big.length >= 3, `public.big is in ${big.length} pieces`);
    assert.equal(big[0]!.blocks!.fromBlock, null);
    assert.equal(big.at(-1)!.blocks!.toBlock, null);
    for (let i = 1; i < big.length; i++) assert.equal(big[i]!.blocks!.fromBlock, big[i - 1]!.blocks!.toBlock);
    assert.equal(plan.pieces.filter((p) => p.kind === 'large_objects').length, 1);
    // Largest first; `no` is the archive's order.
    const sizes = plan.pieces.map((p) => p.estimatedBytes);
    assert.deepEqual(
      sizes,
      [...sizes].sort((a, b) => b - a),
    );
    const client = new pg.Client(source);
    await client.connect();
    try {
      for (const piece of big) {
        const { select } = pieceQuery(piece.copyStatement!, piece.blocks);
        const explained = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${select!}`);
        const text = explained.rows.map((r) => r['QUERY PLAN']).join('\n');
        assert.match(text, /Tid Range Scan/, text);
      }
    } finally {
      await client.end();
    }
    // Nothing of pg_dump outlives the plan.
    const dumps = new pg.Client(source);
    await dumps.connect();
    try {
      const running = await dumps.query(`select 1 from pg_stat_activity where application_name = 'big-backup'`);
      assert.equal(running.rowCount, 0, 'pg_dump has disconnected');
    } finally {
      await dumps.end();
    }
  });

  for (const where of ['file', 's3'] as const) {
    test(`the assembled archive (${where}) restores with pg_restore -j 4 from a file and from stdin to what stock pg_dump -Fc restores`, async () => {
      const url = where === 'file' ? `file://${root}/store` : s3.url('sharded', { part_size: '5MiB' });
      const env = where === 'file' ? {} : s3.env;
      await withStore(url, env, async (store) => {
        let plan: ShardPlan | null = null;
        // Each connection resolves the source once: the plan's, then one per lane, whatever the pieces.
        let connections = 0;
        const locks: Promise<number>[] = [];
        const counted = directSource(source);
        const captured = await captureSharded({
          source: {
            kind: counted.kind,
            resolve: (signal) => {
              connections += 1;
              return counted.resolve(signal);
            },
          },
          store,
          key: () => `fork/${where}.dump`,
          format: 'default',
          concurrency: 3,
          splitSizeBytes: SPLIT,
          static: true,
          hosts: LOOPBACK_ALLOWED,
          onPlan: async (p) => {
            plan = p;
          },
          // Looked at while the lanes go on: a lane's session holds the locks of one piece, not of all.
          onPieceDone: () => void locks.push(mostLocksOfAPieceSession()),
        });
        assert.equal(captured.mode, 'sharded');
        assert.ok(plan);
        const most = Math.max(...(await Promise.all(locks)));
        assert.ok(most <= 4, `a piece session held ${most} relation locks`);
        assert.equal(await pieceSessionsLeft(source), 0, 'every piece session is closed');
        assert.equal(captured.pieces, (plan as ShardPlan).pieces.length);
        assert.equal(captured.piecesReused, 0);
        assert.ok((plan as ShardPlan).pieces.length > 6);
        assert.ok(connections <= 1 + 3, `${connections} connections for ${(plan as ShardPlan).pieces.length} pieces`);
        // Only the archive is left: pieces, records and the plan are gone.
        assert.deepEqual(
          (await store.list('fork/')).map((o) => o.key),
          [`fork/${where}.dump`],
        );
        assert.deepEqual(await store.listIncompleteUploads(''), []);
        const archive = await readAll(await store.read(captured.key));
        assert.equal(archive.length, captured.stored.bytes);
        assert.deepEqual(listedEntries(await listArchive(archive)), stockListing);
        const file = path.join(root, `${where}.dump`);
        writeFileSync(file, archive);
        const parallel = await restoreFromFile(server, `${where}_parallel`, file, 4);
        assert.deepEqual(await fullFingerprint(parallel), expected);
        const piped = await restoreArchive(server, `${where}_stdin`, readFileSync(file));
        assert.deepEqual(await fullFingerprint(piped), expected);
      });
    });
  }

  test('a piece whose COPY keeps failing fails the capture naming the piece, and leaves nothing in storage', async () => {
    const url = `file://${root}/failing`;
    await withStore(url, {}, async (store) => {
      const failing = await seedShardedDatabase(server, 'failing', 20_000);
      const started = Date.now();
      await assert.rejects(
        captureSharded({
          source: directSource(failing),
          store,
          key: () => 'failing.dump',
          format: 'default',
          concurrency: 2,
          splitSizeBytes: SPLIT,
          static: true,
          hosts: LOOPBACK_ALLOWED,
          pieceAttempts: 2,
          // After planning, the table is renamed: its piece's COPY fails on every attempt.
          onPlan: async () => {
            await server.run('failing', 'alter table public.people rename to people_gone');
          },
        }),
        (error: Error) => {
          assert.match(
            error.message,
            /piece \d+ \(public\.people\) failed after 2 attempts: .*people.* does not exist/,
          );
          return true;
        },
      );
      assert.ok(Date.now() - started < 60_000);
      assert.equal(await pieceSessionsLeft(failing), 0, 'every piece session is closed');
      assert.deepEqual(await store.list(''), []);
      assert.deepEqual(await store.listIncompleteUploads(''), []);
    });
  });

  test('a piece whose storage fails after its COPY is tried again while the lane goes on, and the capture completes', async () => {
    const folder = path.join(root, 'late-failure');
    await withStore(`file://${folder}`, {}, async (store) => {
      let victim = -1;
      let plannedOrder: number[] = [];
      let blocker = '';
      const logs: string[] = [];
      const done: number[] = [];
      const captured = await captureSharded({
        source: directSource(source),
        store,
        key: () => 'late.dump',
        format: 'default',
        concurrency: 1,
        splitSizeBytes: SPLIT,
        static: true,
        hosts: LOOPBACK_ALLOWED,
        // A folder where the piece's record goes: storing the record fails once its rows are stored.
        onPlan: async (plan) => {
          plannedOrder = plan.pieces.map((p) => p.no);
          victim = plan.pieces[Math.floor(plan.pieces.length / 2)]!.no;
          blocker = path.join(folder, 'late.dump.pieces', `piece-${String(victim).padStart(5, '0')}.json`);
          mkdirSync(blocker, { recursive: true });
        },
        onLog: (line) => {
          logs.push(line);
          rmSync(blocker, { recursive: true, force: true });
        },
        onPieceDone: (piece) => done.push(piece.no),
      });
      assert.equal(captured.mode, 'sharded');
      const failedAt = logs.findIndex((l) => l.includes(`piece ${victim} `) && /could not be stored/.test(l));
      assert.ok(failedAt >= 0, logs.join('\n'));
      // One lane: the pieces after the victim in the run order went on while its record failed.
      const order = plannedOrder.indexOf(victim);
      const laterDoneFirst = done.slice(0, done.indexOf(victim)).some((no) => plannedOrder.indexOf(no) > order);
      assert.ok(laterDoneFirst, `done ${done.join(',')}, run order ${plannedOrder.join(',')}`);
      assert.equal(new Set(done).size, done.length, 'each piece done once');
      const archive = await readAll(await store.read(captured.key));
      assert.deepEqual(listedEntries(await listArchive(archive)), stockListing);
    });
  });

  test('canceled while pieces are dumped and others still being stored, it stops, leaves nothing in storage and no session', async () => {
    await withStore(`file://${root}/canceled`, {}, async (store) => {
      const stop = new AbortController();
      let done = 0;
      await assert.rejects(
        captureSharded({
          source: directSource(source),
          store,
          key: () => 'canceled.dump',
          format: 'default',
          concurrency: 2,
          splitSizeBytes: SPLIT,
          static: true,
          hosts: LOOPBACK_ALLOWED,
          signal: stop.signal,
          onPieceDone: () => {
            if (++done === 3) stop.abort();
          },
        }),
        (error: Error & { kind?: string }) => error.kind === 'canceled',
      );
      assert.equal(done, 3, 'no piece counts as done after the cancel');
      assert.deepEqual(await store.list(''), []);
      assert.deepEqual(await store.listIncompleteUploads(''), []);
      assert.equal(await pieceSessionsLeft(source), 0, 'every piece session is closed');
    });
  });

  test('a source that may change, or the fast format, is one pg_dump stream, and says why', async () => {
    const changing = await planShardedCapture(directSource(source), {
      format: 'default',
      splitSizeBytes: SPLIT,
      static: false,
      hosts: LOOPBACK_ALLOWED,
    });
    assert.equal(changing.plan.mode, 'single');
    assert.match(changing.plan.modeReason, /may change while it is dumped/);
    const fast = await planShardedCapture(directSource(source), {
      format: 'fast',
      splitSizeBytes: SPLIT,
      static: true,
      hosts: LOOPBACK_ALLOWED,
    });
    assert.equal(fast.plan.mode, 'single');
    assert.match(fast.plan.modeReason, /fast format/);
  });
});
