import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { SYSTEM_PG15_BIN } from '../../../dev/db/local-cluster.ts';
import { parseDatabaseUrl, writePasswordFile, type PasswordFile } from '../../../src/engine/index.ts';
import { copyOut, type CopyOutStream } from '../../../src/engine/sharded/copy-out-stream.ts';
import { createDatabase, startSourceServer, type SourceServer } from '../../support/seed-source.ts';

let server: SourceServer;
let url: string;
let passwordFile: PasswordFile;

/** Tables whose COPY text holds what a parser most easily gets wrong. */
const TABLES = ['odd', 'big_rows', 'many', 'empty', 'no_columns'];

before(async () => {
  server = await startSourceServer();
  url = await createDatabase(server, 'copy_out');
  await server.run(
    'copy_out',
    `
    create table odd (id int, t text, b bytea, j jsonb);
    insert into odd values
      (1, '', '', '{}'),
      (2, null, null, null),
      (3, E'line\\nbreak\\ttab\\\\backslash\\rreturn', E'\\\\x00ff0a0d09', '{"a": "x\\ty"}'),
      (4, 'ünïcödé ☃ 𝄞', E'\\\\x', '[]'),
      (5, '\\N', decode(repeat('5c', 100), 'hex'), '"\\\\N"');
    create table big_rows (id int, t text, b bytea);
    insert into big_rows select i, repeat(md5(i::text), 60000 * i), decode(repeat(md5(i::text), 40000), 'hex')
      from generate_series(1, 3) i;
    create table many (id int, a text, b float8);
    insert into many select i, md5(i::text), i / 7.0 from generate_series(1, 150000) i;
    create table empty (id int, t text);
    create table no_columns ();
    insert into no_columns select from generate_series(1, 1000);
    `,
  );
  passwordFile = await writePasswordFile(parseDatabaseUrl(url));
});

after(async () => {
  await passwordFile?.remove();
  await server?.stop();
});

/** What psql prints for `statement`: the reference the stream is held to. */
async function psqlCopy(statement: string): Promise<Buffer> {
  const connection = parseDatabaseUrl(url);
  const { stdout } = await promisify(execFile)(
    path.join(SYSTEM_PG15_BIN, 'psql'),
    [
      '-X',
      '-q',
      `--host=${connection.host}`,
      `--port=${connection.port}`,
      `--username=${connection.user}`,
      `--dbname=${connection.database}`,
      '-c',
      statement,
    ],
    {
      encoding: 'buffer',
      maxBuffer: 1 << 30,
      env: { PATH: '/usr/bin:/bin', LC_ALL: 'C', PGPASSFILE: passwordFile.path, PGCLIENTENCODING: 'UTF8' },
    },
  );
  return stdout;
}

async function connect(tls: boolean): Promise<pg.Client> {
  const client = new pg.Client({
    connectionString: url,
    ssl: tls ? { rejectUnauthorized: false } : false,
  });
  client.on('error', () => {});
  await client.connect();
  await client.query(`set client_encoding = 'UTF8'`);
  return client;
}

/** Reads the stream to its end; with `slow`, the reader pauses now and then, so backpressure acts. */
async function readAll(stream: CopyOutStream, slow = false): Promise<Buffer> {
  const parts: Buffer[] = [];
  let count = 0;
  await pipeline(
    stream,
    new Writable({
      highWaterMark: 1,
      write(chunk: Buffer, _encoding, callback) {
        parts.push(chunk);
        count += 1;
        if (slow && count % 4 === 0) setTimeout(callback, 20);
        else callback();
      },
    }),
  );
  return Buffer.concat(parts);
}

for (const tls of [false, true]) {
  describe(`COPY TO STDOUT through CopyOutStream (${tls ? 'TLS' : 'plain TCP'})`, () => {
    for (const table of TABLES) {
      test(`the bytes of ${table} equal psql's COPY, and the row count the server's`, async () => {
        const statement = `COPY public.${table} TO STDOUT`;
        const expected = await psqlCopy(statement);
        const client = await connect(tls);
        try {
          const stream = client.query(copyOut(statement, { chunkBytes: 64 * 1024 }));
          const got = await readAll(stream, table === 'many');
          assert.equal(got.length, expected.length);
          assert.ok(got.equals(expected), 'same bytes');
          const { rows } = await client.query<{ n: string }>(`select count(*) as n from public.${table}`);
          assert.equal(stream.rowCount, Number(rows[0]!.n));
          // The connection is pg's again: it answers the next statement.
          assert.equal((await client.query('select 1 as one')).rows[0].one, 1);
        } finally {
          await client.end();
        }
      });
    }
  });
}

test('rows bigger than a buffer, and buffers of 128 KiB by default: the same bytes as psql', async () => {
  const statement = 'COPY (SELECT * FROM public.big_rows UNION ALL SELECT id, a, null FROM public.many) TO STDOUT';
  const expected = await psqlCopy(statement);
  const client = await connect(false);
  try {
    const chunks: number[] = [];
    const parts: Buffer[] = [];
    await pipeline(
      client.query(copyOut(statement)),
      new Writable({
        write(chunk: Buffer, _encoding, callback) {
          chunks.push(chunk.length);
          parts.push(chunk);
          callback();
        },
      }),
    );
    assert.ok(Buffer.concat(parts).equals(expected));
    assert.ok(chunks.length > 3);
    assert.ok(
      chunks.slice(0, -1).every((length) => length === 128 * 1024),
      'full buffers but the last',
    );
  } finally {
    await client.end();
  }
});

test('an error mid-COPY (a failing cast) rejects with the server message and leaves the connection usable', async () => {
  const client = await connect(false);
  try {
    const stream = client.query(
      copyOut(
        `COPY (SELECT CASE WHEN g < 100000 THEN g ELSE ('x' || g)::int END, md5(g::text)
               FROM generate_series(1, 200000) g) TO STDOUT`,
        { chunkBytes: 64 * 1024 },
      ),
    );
    let received = 0;
    await assert.rejects(
      pipeline(
        stream,
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            received += chunk.length;
            callback();
          },
        }),
      ),
      (error: Error) => {
        assert.match(error.message, /invalid input syntax for type integer: "x100000"/);
        assert.equal((error as pg.DatabaseError).code, '22P02');
        return true;
      },
    );
    assert.ok(received > 1024 * 1024, `rows came before the error (${received} bytes)`);
    assert.equal((await client.query('select 2 as two')).rows[0].two, 2);
  } finally {
    await client.end();
  }
});

test('a statement_timeout during the COPY rejects with the server message', async () => {
  const client = await connect(true);
  try {
    await client.query(`set statement_timeout = '500ms'`);
    const stream = client.query(
      copyOut(
        `COPY (SELECT g, CASE WHEN g % 100 = 0 THEN pg_sleep(0.01) END FROM generate_series(1, 100000) g) TO STDOUT`,
        { chunkBytes: 1024 },
      ),
    );
    let received = 0;
    stream.on('data', (chunk: Buffer) => (received += chunk.length));
    await assert.rejects(
      new Promise((resolve, reject) => stream.on('end', resolve).on('error', reject)),
      /canceling statement due to statement timeout/,
    );
    assert.ok(received > 0, 'rows came before the timeout');
    await client.query('reset statement_timeout');
    assert.equal((await client.query('select 3 as three')).rows[0].three, 3);
  } finally {
    await client.end();
  }
});

test('destroyed mid-COPY, it closes the connection, so the server stops copying', async () => {
  const client = await connect(false);
  const watcher = await connect(false);
  try {
    const pid = (await client.query<{ pid: number }>('select pg_backend_pid() as pid')).rows[0]!.pid;
    const stream = client.query(
      // About 7 GB of rows, streamed as the scan goes: only a closed connection stops it soon.
      copyOut('COPY (SELECT m.*, g FROM public.many m, generate_series(1, 1000) g) TO STDOUT', { chunkBytes: 4096 }),
    );
    await new Promise((resolve) => stream.once('data', resolve));
    stream.destroy();
    for (let i = 0; ; i++) {
      const { rows } = await watcher.query('select 1 from pg_stat_activity where pid = $1', [pid]);
      if (rows.length === 0) break;
      assert.ok(i < 100, 'the backend is gone within 10 s');
      await sleep(100);
    }
  } finally {
    await client.end().catch(() => {});
    await watcher.end();
  }
});
