import test from 'node:test';
import assert from 'node:assert/strict';
import { summarisePieces } from '../../src/backups/sharded-progress.ts';
import type { PieceRecord } from '../../src/backups/backup-pieces.repo.ts';

const piece = (no: number, fields: Partial<PieceRecord>): PieceRecord => ({
  backupId: 'b',
  attempt: 1,
  no,
  dumpId: 10,
  kind: 'table',
  schema: 'public',
  table: 't',
  fromBlock: null,
  toBlock: null,
  part: 0,
  parts: 1,
  runOrder: no,
  estimatedBytes: 100,
  state: 'waiting',
  dispatchedAt: null,
  attempts: 0,
  worker: null,
  startedAt: null,
  finishedAt: null,
  bytes: null,
  sha256: null,
  rawBytes: null,
  adler32: null,
  rows: null,
  seconds: null,
  bytesPerSecond: null,
  objectKey: null,
  lastError: null,
  ...fields,
});

test('estimates the time left from the done pieces’ rate times the pieces running side by side', () => {
  const summary = summarisePieces([
    piece(0, { state: 'done', estimatedBytes: 300, seconds: 3 }),
    piece(1, { state: 'done', estimatedBytes: 100, seconds: 1 }),
    piece(2, { state: 'running', estimatedBytes: 400 }),
    piece(3, { state: 'running', estimatedBytes: 400 }),
  ]);
  // 100 bytes/s per piece, two at once, 800 left.
  assert.equal(summary.etaSeconds, 4);
  assert.equal(summary.percent, 33);
  assert.deepEqual([summary.done, summary.running, summary.waiting, summary.failed], [2, 2, 0, 0]);
});

test('has no estimate before any piece is done, and none left once all are', () => {
  assert.equal(summarisePieces([piece(0, { state: 'running' })]).etaSeconds, null);
  assert.equal(summarisePieces([piece(0, { state: 'done', seconds: 1 })]).etaSeconds, 0);
});

test('shows a failed piece’s error, and a done piece without one', () => {
  const summary = summarisePieces([
    piece(0, { state: 'failed', lastError: 'relation does not exist' }),
    piece(1, { state: 'done', lastError: 'an earlier run failed', seconds: 1 }),
  ]);
  assert.deepEqual(
    summary.items.map((p) => p.error),
    ['relation does not exist', null],
  );
});
