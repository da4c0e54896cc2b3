import { GetObjectCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { zstdDecompressSync } from 'node:zlib';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { startS3Server, type TestS3Server } from '../../support/s3-server.ts';
import {
  addBigTable,
  fingerprintDatabase,
  restoreArchive,
  seedSourceDatabase,
  startSourceServer,
  type SourceServer,
} from '../../support/seed-source.ts';
import {
  BIN,
  cliEnv,
  descendants,
  filesUnder,
  jsonResult,
  procText,
  runCli,
  sha256,
  startCli,
  startCommand,
} from './run-cli.ts';

let server: SourceServer;
let s3: TestS3Server;
let shop: string;
let big: string;
let expected: Record<string, string>;
const root = mkdtempSync(path.join(os.tmpdir(), 'bb-cli-'));

before(async () => {
  [server, s3] = await Promise.all([startSourceServer(), startS3Server()]);
  shop = await seedSourceDatabase(server, 'shop');
  big = await seedSourceDatabase(server, 'big');
  await addBigTable(server, 'big', 400_000);
  // heroku_ext is excluded on purpose, as PGBackups does: Heroku manages that schema.
  expected = Object.fromEntries(
    Object.entries(await fingerprintDatabase(shop)).filter(([name]) => !name.includes('heroku_ext.')),
  );
});
after(async () => {
  await Promise.all([server?.stop(), s3?.close()]);
  rmSync(root, { recursive: true, force: true });
});

/** Output that must never hold the source's password, plain or percent-encoded. */
function assertNoPassword(text: string, what: string): void {
  for (const secret of [server.password, encodeURIComponent(server.password)])
    assert.ok(!text.includes(secret), `${what} holds the password:\n${text}`);
}

async function readS3(key: string): Promise<Buffer> {
  const client = s3.client();
  const answer = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
  return Buffer.from(await answer.Body!.transformToByteArray());
}

describe('big-backup capture', () => {
  let fileResult: Record<string, unknown>;

  test('captures to a file:// folder and prints one JSON object whose archive restores to the same contents', async () => {
    const run = await runCli(['capture', '--source', 'env:SHOP_URL', '--to', `file://${root}/files`, '--json'], {
      SHOP_URL: shop,
    });
    assert.equal(run.code, 0, run.stderr);
    fileResult = jsonResult(run);
    assert.equal(fileResult.verified, true);
    assert.equal(fileResult.format, 'default');
    assert.match(String(fileResult.key), /^big-backup\/shop\/\d{8}T\d{6}Z-[0-9a-f]{8}\.dump$/);
    const file = String(fileResult.path);
    assert.equal(file, path.join(root, 'files', String(fileResult.key)));
    const archive = readFileSync(file);
    assert.equal(fileResult.bytes, archive.length);
    assert.equal(fileResult.sha256, sha256(archive));
    assert.equal(
      fileResult.restoreCommand,
      `pg_restore --verbose --clean --if-exists --no-acl --no-owner -d "$DATABASE_URL" ${file}`,
    );
    assert.ok(Number(fileResult.tables) >= 4, `tables: ${String(fileResult.tables)}`);
    assertNoPassword(run.stdout + run.stderr, 'the output');
    const restored = await restoreArchive(server, 'restored_file', archive);
    assert.deepEqual(await fingerprintDatabase(restored), expected);
  });

  test('captures a fast (zstd-wrapped) archive to the S3-protocol server', async () => {
    const run = await runCli(
      ['capture', '--source=env:SHOP_URL', '--to', s3.url('cli'), '--format', 'fast', '--json'],
      { SHOP_URL: shop, ...s3.env },
    );
    assert.equal(run.code, 0, run.stderr);
    const result = jsonResult(run);
    assert.equal(result.verified, true);
    assert.equal(result.format, 'fast');
    // pg_dump 15 has no zstd of its own, so the archive is wrapped: restoring needs zstd first.
    assert.equal(result.wrapper, 'zstd');
    assert.match(String(result.key), /^big-backup\/shop\/\d{8}T\d{6}Z-[0-9a-f]{8}\.dump\.zst$/);
    assert.equal(result.url, `s3://${s3.bucket}/cli/${String(result.key)}`);
    const name = path.posix.basename(String(result.key));
    assert.equal(
      result.restoreCommand,
      `zstd -dc ${name} | pg_restore --verbose --clean --if-exists --no-acl --no-owner -d "$DATABASE_URL"`,
    );
    const stored = await readS3(`cli/${String(result.key)}`);
    assert.equal(result.sha256, sha256(stored));
    assert.equal(result.bytes, stored.length);
    const restored = await restoreArchive(server, 'restored_s3', zstdDecompressSync(stored));
    assert.deepEqual(await fingerprintDatabase(restored), expected);

    const verify = await runCli(['verify', '--from', s3.url('cli'), '--key', String(result.key), '--json'], s3.env);
    assert.equal(verify.code, 0, verify.stderr);
    assert.equal(jsonResult(verify).verified, true);
    assert.equal(jsonResult(verify).wrapper, 'zstd', 'verify read the wrapper from the manifest');
    assert.equal(jsonResult(verify).sha256, result.sha256);
  });

  test('verify passes on the stored archive and fails once one byte of it is flipped', async () => {
    const args = ['verify', '--from', `file://${root}/files`, '--key', String(fileResult.key), '--json'];
    const good = await runCli(args);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(jsonResult(good).verified, true);
    assert.equal(jsonResult(good).sha256, fileResult.sha256);

    const file = String(fileResult.path);
    const original = readFileSync(file);
    const flipped = Buffer.from(original);
    flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
    writeFileSync(file, flipped);
    const bad = await runCli(args);
    assert.equal(bad.code, 1, bad.stderr);
    const result = jsonResult(bad);
    assert.equal(result.verified, false);
    assert.equal((result.error as { code: string }).code, 'verification_failed');
    assert.match(bad.stderr, /^big-backup: error: verification failed: .*digest/m);
    assert.match(bad.stderr, /^hint: .*do not restore from it/m);
  });

  test('verify that cannot read the store says so, and does not call the archive bad', async () => {
    const captured = await runCli(['capture', '--source', 'env:SHOP_URL', '--to', s3.url('unreadable'), '--json'], {
      SHOP_URL: shop,
      ...s3.env,
    });
    assert.equal(captured.code, 0, captured.stderr);
    const key = String(jsonResult(captured).key);
    s3.faults = { failGetObjectOf: key };
    try {
      const run = await runCli(['verify', '--from', s3.url('unreadable'), '--key', key, '--json'], s3.env);
      assert.equal(run.code, 1, run.stderr);
      assert.equal((jsonResult(run).error as { code: string }).code, 'read_failed');
      assert.match(
        run.stderr,
        /^hint: the store could not be read, which says nothing about the archive; run verify again$/m,
      );
    } finally {
      s3.reset();
    }
  });

  test('--source env:NAME keeps the password out of every argv and of the output', async () => {
    const running = startCli(['capture', '--source', 'env:BIG_URL', '--to', `file://${root}/env`], { BIG_URL: big });
    // A forked child shows its parent's argv until it execs, so keep every argv a pid showed.
    const seen = new Set<string>();
    const environs: string[] = [];
    const watch = setInterval(() => {
      for (const pid of [running.child.pid!, ...descendants(running.child.pid!)]) {
        const cmdline = procText(pid, 'cmdline');
        if (cmdline !== null) seen.add(cmdline);
        // The command itself holds BIG_URL by design; its children (pg_dump, pg_restore) must not.
        // Between fork and exec a child is still a copy of the command, environment included, so
        // only an environment read between two identical post-exec argvs counts.
        if (pid === running.child.pid || cmdline === null || cmdline.includes('big-backup.ts')) continue;
        const environ = procText(pid, 'environ');
        if (environ !== null && procText(pid, 'cmdline') === cmdline) environs.push(environ);
      }
    }, 10);
    const run = await running.done;
    clearInterval(watch);
    assert.equal(run.code, 0, run.stderr);
    const cmdlines = [...seen];
    assert.ok(
      cmdlines.some((c) => /pg_dump .*--verbose/.test(c)),
      `pg_dump was seen: ${cmdlines.join('\n')}`,
    );
    assert.ok(
      cmdlines.some((c) => c.includes('env:BIG_URL')),
      'the command was seen',
    );
    assertNoPassword(cmdlines.join('\n'), 'an argv');
    assert.ok(
      environs.some((e) => e.includes('PGPASSFILE=')),
      "pg_dump's environment was read",
    );
    assertNoPassword(environs.join('\n'), "a child's environment");
    assertNoPassword(run.stdout + run.stderr, 'the output');
    assert.match(run.stdout, /^Verified backup\n/);
    assert.match(run.stderr, /backing up postgres:\/\/postgres@127\.0\.0\.1:\d+\/big/);
  });

  test('a wrong password fails within seconds with a readable error and no password', async () => {
    const wrong = new URL(shop);
    wrong.password = 'not-the-password-123';
    const run = await runCli(['capture', '--source', 'env:SRC', '--to', `file://${root}/wrong`, '--json'], {
      SRC: wrong.toString(),
    });
    assert.equal(run.code, 1, run.stderr);
    assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
    assert.match(
      run.stderr,
      /^big-backup: error: could not .*postgres:\/\/postgres@127\.0\.0\.1:\d+\/shop: .*password authentication failed/m,
    );
    assert.match(run.stderr, /^hint: /m);
    assert.equal((jsonResult(run).error as { code: string }).code, 'connection_failed');
    assert.ok(!(run.stdout + run.stderr).includes('not-the-password-123'));
    assertNoPassword(run.stdout + run.stderr, 'the output');
    assert.deepEqual(filesUnder(path.join(root, 'wrong')), []);
  });

  test("a disk that refuses writes fails as a storage failure, not as pg_dump's, and leaves no file", async () => {
    // `ulimit -f` makes every write past 256 KiB to a regular file fail with EFBIG, as a full disk
    // fails with ENOSPC; pg_dump writes to a pipe and is not limited.
    const run = await startCommand(
      'bash',
      [
        '-c',
        'ulimit -f 256 && exec "$0" "$@"',
        BIN,
        'capture',
        '--source',
        'env:BIG_URL',
        '--to',
        `file://${root}/full`,
        '--json',
      ],
      cliEnv({ BIG_URL: big }),
    ).done;
    const stderr = run.stderr;
    assert.equal(run.code, 1, stderr);
    const error = jsonResult(run).error as { code: string; message: string };
    assert.equal(error.code, 'store_failed', stderr);
    assert.match(error.message, /EFBIG/);
    assert.doesNotMatch(stderr, /error: .*(pg_dump|archive stream failed)/);
    assert.match(stderr, /^hint: .*for file:\/\/ that the folder is writable and has room/m);
    assert.deepEqual(filesUnder(path.join(root, 'full')), []);
  });

  test('an unreachable database fails within seconds', async () => {
    const run = await runCli(['capture', '--source', 'env:SRC', '--to', `file://${root}/down`], {
      SRC: `postgres://someone:s3cret-pw@127.0.0.1:1/app`,
    });
    assert.equal(run.code, 1, run.stderr);
    assert.ok(run.ms < 10_000, `took ${run.ms} ms`);
    assert.match(run.stderr, /^big-backup: error: .*postgres:\/\/someone@127\.0\.0\.1:1\/app.*ECONNREFUSED/m);
    assert.ok(!(run.stdout + run.stderr).includes('s3cret-pw'));
    assert.equal(run.stdout, '');
  });

  for (const where of ['file', 's3'] as const) {
    test(`SIGTERM mid-dump stops pg_dump and leaves nothing in ${where} storage`, async () => {
      const to = where === 'file' ? `file://${root}/term` : s3.url('term', { part_size: '5MiB' });
      const running = startCli(['capture', '--source', 'env:BIG_URL', '--to', to, '--verbose', '--format', 'fast'], {
        BIG_URL: big,
        ...s3.env,
      });
      // Wait until pg_dump is copying the big table, i.e. bytes are flowing into storage.
      const deadline = Date.now() + 20_000;
      while (!/dumping contents of table "public\.big"/.test(running.stderr())) {
        assert.ok(
          Date.now() < deadline && running.child.exitCode === null,
          `the dump did not reach public.big:\n${running.stderr()}`,
        );
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      if (where === 'file') {
        while (!filesUnder(path.join(root, 'term')).some((name) => name.endsWith('.partial'))) {
          assert.ok(Date.now() < deadline && running.child.exitCode === null, 'no temporary file appeared');
          await new Promise((resolve) => setTimeout(resolve, 5));
        }
      }
      const pgDumps = descendants(running.child.pid!).filter((pid) => /pg_dump/.test(procText(pid, 'cmdline') ?? ''));
      assert.equal(pgDumps.length, 1, 'pg_dump is running');
      running.child.kill('SIGTERM');
      const run = await running.done;
      assert.equal(run.code, 143, run.stderr);
      assert.match(
        run.stderr,
        /^big-backup: error: interrupted by SIGTERM: pg_dump was stopped and nothing was kept in storage$/m,
      );
      for (const pid of pgDumps) assert.equal(procText(pid, 'cmdline'), null, `pg_dump ${pid} is gone`);
      if (where === 'file') {
        assert.deepEqual(filesUnder(path.join(root, 'term')), []);
      } else {
        const store = await openObjectStore(s3.url('term'), s3.env);
        try {
          assert.deepEqual(await store.list(''), []);
          assert.deepEqual(await store.listIncompleteUploads(''), [], 'no open multipart upload');
        } finally {
          await store.close();
        }
      }
    });
  }
});
