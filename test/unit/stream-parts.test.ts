import test from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { finished } from 'node:stream/promises';
import { createCoalescer } from '../../src/engine/coalesce.ts';
import { createLineSplitter, parseVerboseLine } from '../../src/engine/stderr-lines.ts';
import { classifyExit } from '../../src/engine/exit-status.ts';
import { ProgressEstimator } from '../../src/engine/progress.ts';
import { majorFromVersionNum } from '../../src/engine/server-info.ts';
import { parsePgDumpVersion } from '../../src/engine/pg-binaries.ts';

test('small chunks leave the coalescer as full buffers with every byte in order', async () => {
  const input = Buffer.from(Array.from({ length: 10_000 }, (_, i) => i % 251));
  const pieces = [];
  for (let offset = 0; offset < input.length; offset += 37) pieces.push(input.subarray(offset, offset + 37));
  let seen = 0;
  const out: Buffer[] = [];
  const coalescer = Readable.from(pieces).pipe(
    createCoalescer(4096, (n) => {
      seen += n;
    }),
  );
  coalescer.on('data', (chunk: Buffer) => out.push(chunk));
  await finished(coalescer);
  assert.deepEqual(
    out.map((b) => b.length),
    [4096, 4096, 1808],
  );
  assert.deepEqual(Buffer.concat(out), input);
  assert.equal(seen, input.length);
});

test('the coalescer frees each pipe read that owns its whole buffer once copied, and leaves shared ones alone', async () => {
  // Pipe reads each own an ArrayBuffer of exactly their length; views into a larger buffer must survive.
  const owned = ['alpha-', 'beta-'].map((text) => {
    const b = Buffer.alloc(text.length);
    b.write(text);
    return b;
  });
  const shared = Buffer.from('gamma-delta'); // a slice of Node's shared 8 KiB pool
  const view = shared.subarray(0, 6);
  const out: Buffer[] = [];
  const coalescer = Readable.from([...owned, view]).pipe(createCoalescer(8));
  coalescer.on('data', (chunk: Buffer) => out.push(chunk));
  await finished(coalescer);
  assert.equal(Buffer.concat(out).toString(), 'alpha-beta-gamma-');
  assert.deepEqual(
    owned.map((b) => b.buffer.detached),
    [true, true],
  );
  assert.equal(shared.buffer.detached, false);
  assert.equal(shared.toString(), 'gamma-delta');
});

test('stderr is split into lines across chunk and UTF-8 boundaries', () => {
  const lines: string[] = [];
  const splitter = createLineSplitter((line) => lines.push(line), 50);
  const text = Buffer.from(
    'pg_dump: dumping contents of table "Ünï.Ñandú ☃"\npg_dump: a\r\n' + 'x'.repeat(120) + '\nlast',
  );
  for (let i = 0; i < text.length; i += 3) splitter.push(text.subarray(i, i + 3));
  splitter.end();
  assert.deepEqual(lines, ['pg_dump: dumping contents of table "Ünï.Ñandú ☃"', 'pg_dump: a', 'x'.repeat(50), 'last']);
});

test('verbose lines name the table being copied and the large objects', () => {
  assert.deepEqual(parseVerboseLine('pg_dump: dumping contents of table "sales.orders"'), {
    kind: 'table',
    table: 'sales.orders',
  });
  assert.deepEqual(parseVerboseLine('pg_dump: saving large objects'), { kind: 'large-objects' });
  assert.deepEqual(parseVerboseLine('pg_dump: saving large objects "1000-1999"'), { kind: 'large-objects' });
  assert.equal(parseVerboseLine('pg_dump: reading indexes'), undefined);
});

test('an exit is classified by what pg_dump said', () => {
  const mismatch = classifyExit(1, null, [
    'pg_dump: error: aborting because of server version mismatch',
    'pg_dump: detail: server version: 17.10; pg_dump version: 15.18',
  ]);
  assert.equal(mismatch.kind, 'version_mismatch');
  assert.equal(mismatch.retryable, false);
  const auth = classifyExit(1, null, [
    'pg_dump: error: connection to server at "127.0.0.1", port 5432 failed: FATAL:  password authentication failed for user "postgres"',
  ]);
  assert.equal(auth.kind, 'connection_failed');
  assert.equal(auth.retryable, false);
  const refused = classifyExit(1, null, [
    'pg_dump: error: connection to server at "127.0.0.1", port 1 failed: Connection refused',
  ]);
  assert.equal(refused.kind, 'connection_failed');
  assert.equal(refused.retryable, true);
  const terminated = classifyExit(1, null, [
    'pg_dump: dumping contents of table "public.big"',
    'pg_dump: error: Dumping the contents of table "big" failed: PQgetCopyData() failed.',
    'pg_dump: detail: Error message from server: server closed the connection unexpectedly',
  ]);
  assert.equal(terminated.kind, 'dump_failed');
  assert.equal(terminated.retryable, true);
  assert.equal(terminated.detail.exitCode, 1);
  assert.match(terminated.message, /^pg_dump exited with code 1: .*PQgetCopyData/);
  assert.match(classifyExit(null, 'SIGKILL', []).message, /killed by SIGKILL/);
});

test('progress counts finished tables at their size and estimates the one in flight', () => {
  const start = 1_000_000;
  const progress = new ProgressEstimator(
    {
      tableBytes: 100e6,
      largeObjectBytes: 0,
      tableSizes: new Map([
        ['public.a', 40e6],
        ['public.b', 60e6],
      ]),
    },
    '0',
    { now: start, windowMs: 10_000 },
  );
  assert.equal(progress.snapshot(start).fractionDone, 0);
  progress.startSection({ kind: 'table', table: 'public.a' });
  progress.addRaw(10e6);
  progress.addOut(5e6);
  const early = progress.snapshot(start + 1000);
  assert.equal(early.currentTable, 'public.a');
  assert.ok(early.sourceBytesDone > 10e6 && early.sourceBytesDone < 11e6, String(early.sourceBytesDone)); // prior ratio 1.07
  progress.addRaw(30e6);
  progress.startSection({ kind: 'table', table: 'public.b' });
  progress.addRaw(30e6); // the learned ratio is now 40e6 / 40e6 = 1
  progress.addOut(30e6);
  const later = progress.snapshot(start + 4000);
  assert.equal(later.sourceBytesDone, 70e6);
  assert.equal(later.tablesStarted, 2);
  assert.ok(later.etaSeconds !== null && later.etaSeconds > 0);
  assert.equal(later.bytesPerSecond, Math.round(35e6 / 4));
  progress.finish();
  const end = progress.snapshot(start + 5000);
  assert.equal(end.fractionDone, 1);
  assert.equal(end.etaSeconds, 0);
});

test('large objects announced in batches (pg_dump 17+) count against one budget, not one per batch', () => {
  const start = 1_000_000;
  const progress = new ProgressEstimator(
    { tableBytes: 1e9, largeObjectBytes: 50e9, tableSizes: new Map([['public.a', 1e9]]) },
    '0',
    { now: start },
  );
  progress.startSection({ kind: 'table', table: 'public.a' });
  progress.addRaw(1e9);
  for (let batch = 0; batch < 3; batch++) {
    progress.startSection({ kind: 'large-objects' });
    progress.addRaw(1e9);
  }
  const during = progress.snapshot(start + 10_000);
  assert.ok(during.fractionDone! < 0.1, `after 3 GB of 51 GB: ${during.fractionDone}`);
  assert.equal(during.currentTable, 'large objects');
  // A batch after another entry shares what is left of the budget.
  progress.startSection({ kind: 'table', table: 'public.late' });
  progress.startSection({ kind: 'large-objects' });
  const again = progress.snapshot(start + 20_000);
  assert.ok(again.sourceBytesDone <= 51e9 * 0.99);
  progress.finish();
  assert.equal(progress.snapshot(start + 30_000).fractionDone, 1);
});

test('versions parse from server_version_num and pg_dump --version', () => {
  assert.equal(majorFromVersionNum(150018), 15);
  assert.equal(majorFromVersionNum(170004), 17);
  assert.equal(majorFromVersionNum(90624), 9.6);
  assert.deepEqual(parsePgDumpVersion('pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n'), {
    version: '15.18',
    major: 15,
  });
  assert.deepEqual(parsePgDumpVersion('pg_dump (PostgreSQL) 9.6.24'), { version: '9.6.24', major: 9.6 });
  assert.deepEqual(parsePgDumpVersion('pg_dump (PostgreSQL) 18beta1'), { version: '18', major: 18 });
  assert.equal(parsePgDumpVersion('something else'), undefined);
});
