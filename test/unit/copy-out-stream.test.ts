import test from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import type pg from 'pg';
import { CopyOutStream } from '../../src/engine/sharded/copy-out-stream.ts';

/** One backend message: its type byte, its length (itself included), its payload. */
function message(type: string, payload: Buffer | string = Buffer.alloc(0)): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head.write(type, 0, 'latin1');
  head.writeUInt32BE(body.length + 4, 1);
  return Buffer.concat([head, body]);
}

const copyOutResponse = message('H', Buffer.from([0, 0, 2, 0, 0, 0, 0]));
const copyDone = message('c');
const commandComplete = message('C', 'COPY 5\0');
const readyForQuery = message('Z', 'T');
const notice = message('N', 'SWARNING\0Mslow\0\0');
const parameterStatus = message('S', 'TimeZone\0UTC\0');
const errorResponse = message('E', 'SERROR\0C57014\0Mcanceling statement due to statement timeout\0\0');

/**
 * pg's side of a connection: a socket whose one 'data' listener stands for pg's parser and keeps
 * every byte it is given, and `query` keeping the statements sent.
 */
function fakeConnection() {
  const socket = new PassThrough();
  const toPg: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => toPg.push(chunk));
  const sent: string[] = [];
  const connection = { stream: socket, query: (text: string) => sent.push(text) };
  return { socket, toPg, sent, connection: connection as unknown as pg.Connection };
}

/** Feeds `chunks` to the socket one by one, letting each be delivered. */
async function feed(socket: PassThrough, chunks: Buffer[]): Promise<void> {
  for (const chunk of chunks) {
    if (!socket.write(chunk) && !socket.destroyed) await once(socket, 'drain');
    await tick();
  }
}

function collect(stream: CopyOutStream): { buffers: Buffer[]; ended: Promise<void> } {
  const buffers: Buffer[] = [];
  stream.on('data', (buffer: Buffer) => buffers.push(Buffer.from(buffer)));
  return { buffers, ended: once(stream, 'end').then(() => {}) };
}

/** Cuts `bytes` at the given offsets. */
function cut(bytes: Buffer, at: number[]): Buffer[] {
  const edges = [0, ...at, bytes.length];
  return edges.slice(1).map((end, i) => bytes.subarray(edges[i], end));
}

const rows = [
  Buffer.from('1\tplain\n'),
  Buffer.alloc(0),
  Buffer.from('\n'),
  Buffer.from('2\ttab\\there\\nnewline\\\\back\\N\n'),
  Buffer.from(`3\t${'x'.repeat(70)}\n`),
];
const payload = Buffer.concat(rows);
const copyBytes = Buffer.concat([
  copyOutResponse,
  message('d', rows[0]),
  notice,
  message('d', rows[1]),
  message('d', rows[2]),
  parameterStatus,
  message('d', rows[3]),
  message('d', rows[4]),
  copyDone,
]);
const afterCopy = Buffer.concat([commandComplete, readyForQuery]);

test('sends the statement and takes the socket over from pg until the COPY is done', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('COPY t TO STDOUT', { chunkBytes: 16 });
  assert.equal(stream.submit(pgSide.connection), undefined);
  assert.deepEqual(pgSide.sent, ['COPY t TO STDOUT']);
  assert.equal(pgSide.socket.listenerCount('data'), 1);
  const { buffers, ended } = collect(stream);
  await feed(pgSide.socket, [copyBytes, afterCopy]);
  assert.deepEqual(Buffer.concat(pgSide.toPg), afterCopy, 'pg gets exactly what follows CopyDone');
  stream.handleCommandComplete({ text: 'COPY 5' });
  stream.handleReadyForQuery();
  await ended;
  assert.deepEqual(Buffer.concat(buffers), payload);
  assert.equal(stream.rowCount, 5);
});

test('joins rows into buffers of chunkBytes and equals the payloads for every way the bytes split in two', async () => {
  const bytes = Buffer.concat([copyBytes, afterCopy]);
  for (let split = 1; split < bytes.length; split++) {
    const pgSide = fakeConnection();
    const stream = new CopyOutStream('COPY t TO STDOUT', { chunkBytes: 16, highWaterMark: 1024 });
    stream.submit(pgSide.connection);
    const { buffers, ended } = collect(stream);
    await feed(pgSide.socket, cut(bytes, [split]));
    stream.handleCommandComplete({ text: 'COPY 5' });
    await ended;
    assert.deepEqual(Buffer.concat(buffers), payload, `split at ${split}`);
    assert.ok(
      buffers.slice(0, -1).every((buffer) => buffer.length === 16),
      `split at ${split}: all but the last buffer full`,
    );
    assert.deepEqual(Buffer.concat(pgSide.toPg), afterCopy, `split at ${split}: pg's bytes`);
  }
});

test('parses the COPY delivered one byte at a time', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('COPY t TO STDOUT', { chunkBytes: 7, highWaterMark: 1024 });
  stream.submit(pgSide.connection);
  const { buffers, ended } = collect(stream);
  const bytes = Buffer.concat([copyBytes, afterCopy]);
  await feed(
    pgSide.socket,
    cut(
      bytes,
      Array.from({ length: bytes.length - 1 }, (_, i) => i + 1),
    ),
  );
  stream.handleCommandComplete({ text: 'COPY 5' });
  await ended;
  assert.deepEqual(Buffer.concat(buffers), payload);
  assert.deepEqual(Buffer.concat(pgSide.toPg), afterCopy);
});

test('a row larger than the buffer spans several buffers, whatever the socket chunks', async () => {
  const big = Buffer.alloc(5000);
  for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
  const bytes = Buffer.concat([copyOutResponse, message('d', 'a\n'), message('d', big), message('d', 'b\n'), copyDone]);
  for (const splits of [[], [3], [9, 10, 11], [100, 2000, 4999, 5006, 5010]]) {
    const pgSide = fakeConnection();
    const stream = new CopyOutStream('COPY t TO STDOUT', { chunkBytes: 1024, highWaterMark: 64 * 1024 });
    stream.submit(pgSide.connection);
    const { buffers, ended } = collect(stream);
    await feed(pgSide.socket, cut(bytes, splits));
    stream.handleCommandComplete({ text: 'COPY 3' });
    await ended;
    assert.deepEqual(Buffer.concat(buffers), Buffer.concat([Buffer.from('a\n'), big, Buffer.from('b\n')]));
    assert.deepEqual(
      buffers.map((buffer) => buffer.length),
      [1024, 1024, 1024, 1024, 5004 - 4 * 1024],
    );
  }
});

test('a COPY of no rows ends empty with a row count of 0', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('COPY t TO STDOUT');
  stream.submit(pgSide.connection);
  const { buffers, ended } = collect(stream);
  await feed(pgSide.socket, [Buffer.concat([copyOutResponse, copyDone, message('C', 'COPY 0\0'), readyForQuery])]);
  stream.handleCommandComplete({ text: 'COPY 0' });
  await ended;
  assert.equal(Buffer.concat(buffers).length, 0);
  assert.equal(stream.rowCount, 0);
});

test('an ErrorResponse, wherever the bytes split, goes to pg whole and the stream fails with the error pg reports', async () => {
  const bytes = Buffer.concat([copyOutResponse, message('d', rows[0]), errorResponse, readyForQuery]);
  const fromError = Buffer.concat([errorResponse, readyForQuery]);
  for (let split = 1; split < bytes.length; split++) {
    const pgSide = fakeConnection();
    const stream = new CopyOutStream('COPY t TO STDOUT', { chunkBytes: 16 });
    stream.submit(pgSide.connection);
    const failed = once(stream, 'error').then(([error]) => error as Error);
    stream.resume();
    await feed(pgSide.socket, cut(bytes, [split]));
    assert.deepEqual(Buffer.concat(pgSide.toPg), fromError, `split at ${split}`);
    stream.handleError(new Error('canceling statement due to statement timeout'));
    assert.equal((await failed).message, 'canceling statement due to statement timeout');
    assert.equal(pgSide.socket.destroyed, false, 'the connection stays usable');
  }
});

test('stops reading the socket while the reader is full, and reads on once it drains', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('COPY t TO STDOUT', { chunkBytes: 1024, highWaterMark: 1024 });
  stream.submit(pgSide.connection);
  const row = Buffer.alloc(100, 'r');
  const many = Buffer.concat(Array.from({ length: 100 }, () => message('d', row)));
  pgSide.socket.write(Buffer.concat([copyOutResponse, many.subarray(0, 2000)]));
  pgSide.socket.write(many.subarray(2000, 6000));
  pgSide.socket.write(Buffer.concat([many.subarray(6000), copyDone, afterCopy]));
  await tick();
  await tick();
  assert.equal(pgSide.socket.isPaused(), true, 'the socket is paused while nobody reads');
  assert.ok(pgSide.socket.readableLength > 0, 'bytes wait in the socket');
  assert.equal(stream.readableLength, 1024, 'one full buffer waits');
  const { buffers, ended } = collect(stream);
  await tick();
  await tick();
  assert.deepEqual(Buffer.concat(pgSide.toPg), afterCopy);
  stream.handleCommandComplete({ text: 'COPY 100' });
  await ended;
  assert.deepEqual(Buffer.concat(buffers), Buffer.concat(Array.from({ length: 100 }, () => row)));
  assert.equal(pgSide.socket.isPaused(), false, 'pg reads on');
});

test('destroyed before the COPY finished, it closes the connection and gives the socket back to pg', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('COPY t TO STDOUT');
  stream.submit(pgSide.connection);
  await feed(pgSide.socket, [Buffer.concat([copyOutResponse, message('d', rows[0])])]);
  stream.destroy();
  assert.equal(pgSide.socket.destroyed, true);
  assert.equal(pgSide.socket.listenerCount('data'), 1);
  assert.equal(pgSide.toPg.length, 0);
});

test('a statement that is not a COPY TO STDOUT goes to pg and fails the stream', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('SELECT 1');
  stream.submit(pgSide.connection);
  const failed = once(stream, 'error').then(([error]) => error as Error);
  const rowDescription = message('T', Buffer.from([0, 0]));
  await feed(pgSide.socket, [Buffer.concat([rowDescription, message('C', 'SELECT 0\0'), readyForQuery])]);
  assert.equal(pgSide.toPg[0]![0], 'T'.charCodeAt(0));
  stream.handleRowDescription();
  stream.handleCommandComplete({ text: 'SELECT 0' });
  assert.match((await failed).message, /did not run a COPY TO STDOUT/);
});

test('a message claiming a length below 4 fails the stream', async () => {
  const pgSide = fakeConnection();
  const stream = new CopyOutStream('COPY t TO STDOUT');
  stream.submit(pgSide.connection);
  const failed = once(stream, 'error').then(([error]) => error as Error);
  await feed(pgSide.socket, [Buffer.concat([copyOutResponse, Buffer.from([0x64, 0, 0, 0, 2])])]);
  assert.match((await failed).message, /claims length 2/);
  assert.equal(pgSide.socket.destroyed, true);
});
