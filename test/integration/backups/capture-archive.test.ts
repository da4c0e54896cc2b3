import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { seededSourceServer } from '../../support/factories.ts';
import { LOOPBACK_ALLOWED, fingerprintDatabase, restoreArchive, listArchive } from '../../support/seed-source.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { captureArchive, directSource, isVerificationFailure, verifyArchive } from '../../../src/engine/index.ts';
import { startArchiveInspector } from '../../../src/engine/archive-inspector.ts';
import { startS3Server } from '../../support/s3-server.ts';

const { server, sourceUrl: source } = await seededSourceServer();
const root = mkdtempSync(path.join(os.tmpdir(), 'bb-capture-'));
const store = await openObjectStore(`file://${root}`, {});
after(async () => {
  await store.close();
  rmSync(root, { recursive: true, force: true });
});

async function readStored(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const format of ['default', 'fast'] as const) {
  test(`captures a ${format} archive that is stored, verified and restores to the same contents`, async () => {
    const logs: string[] = [];
    const captured = await captureArchive({
      source: directSource(source),
      hosts: LOOPBACK_ALLOWED,
      store,
      format,
      key: (plan) => `tenants/t/${format}/attempt-1${plan.format.fileExtension}`,
      onLog: (line) => logs.push(line),
    });
    assert.ok(captured.stored.bytes > 0);
    assert.match(captured.stored.sha256, /^[0-9a-f]{64}$/);
    assert.ok(captured.verified.tableCount >= 3, `tables: ${captured.verified.tableCount}`);
    assert.equal(captured.verified.sha256, captured.stored.sha256);
    assert.ok(logs.some((l) => /dumping contents of table/.test(l)));
    let archive = await readStored(captured.key);
    if (captured.plan.format.wrapper === 'zstd') archive = (await import('node:zlib')).zstdDecompressSync(archive);
    const target = await restoreArchive(server, `restored_${format}`, archive);
    // heroku_ext is excluded on purpose, as PGBackups does: Heroku manages that schema.
    const expected = Object.fromEntries(
      Object.entries(await fingerprintDatabase(source)).filter(([k]) => !k.includes('heroku_ext.')),
    );
    assert.deepEqual(await fingerprintDatabase(target), expected);
  });
}

test('verification fails on one flipped byte and on a truncated object', async () => {
  const captured = await captureArchive({
    source: directSource(source),
    hosts: LOOPBACK_ALLOWED,
    store,
    format: 'default',
    key: () => 'tenants/t/flip/attempt-1.dump',
  });
  const file = path.join(root, 'tenants/t/flip/attempt-1.dump');
  const original = readFileSync(file);
  const flipped = Buffer.from(original);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
  writeFileSync(file, flipped);
  await assert.rejects(
    verifyArchive(store, captured.key, captured.stored, {
      pgRestore: captured.plan.binaries.pgRestore,
      wrapper: 'none',
    }),
    isVerificationFailure,
  );
  writeFileSync(file, original.subarray(0, original.length - 100));
  await assert.rejects(
    verifyArchive(store, captured.key, captured.stored, {
      pgRestore: captured.plan.binaries.pgRestore,
      wrapper: 'none',
    }),
    /bytes/,
  );
  writeFileSync(file, original);
  const ok = await verifyArchive(store, captured.key, captured.stored, {
    pgRestore: captured.plan.binaries.pgRestore,
    wrapper: 'none',
  });
  assert.equal(ok.sha256, captured.stored.sha256);
});

test('verification catches an archive whose stored digest matches but whose content is not an archive', async () => {
  // Writes garbage through the store itself, so size and digest agree and only pg_restore can object.
  const { Readable } = await import('node:stream');
  const stored = await store.upload('tenants/t/garbage/attempt-1.dump', Readable.from([Buffer.alloc(4096, 7)]));
  await assert.rejects(
    verifyArchive(store, stored.key, stored, { pgRestore: '/usr/lib/postgresql/15/bin/pg_restore', wrapper: 'none' }),
    /pg_restore could not read/,
  );
});

test('a canceled capture leaves nothing in storage', async () => {
  const controller = new AbortController();
  const done = captureArchive({
    source: directSource(source),
    hosts: LOOPBACK_ALLOWED,
    store,
    format: 'default',
    key: () => 'tenants/t/cancel/attempt-1.dump',
    signal: controller.signal,
    onPlan: async () => {
      setTimeout(() => controller.abort(), 50);
    },
  });
  await assert.rejects(done);
  const dir = path.join(root, 'tenants/t/cancel');
  const left = (() => {
    try {
      return readdirSync(dir);
    } catch {
      return [];
    }
  })();
  assert.deepEqual(left, []);
});

test('the read-through while dumping refuses a stream that is not an archive', async () => {
  const { Readable, pipeline } = await import('node:stream');
  const { Writable } = await import('node:stream');
  const inspector = startArchiveInspector('/usr/lib/postgresql/15/bin/pg_restore');
  const sink = new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
  await new Promise<void>((resolve) =>
    pipeline(Readable.from([Buffer.alloc(1 << 20, 7), Buffer.alloc(1 << 20, 9)]), inspector.tap, sink, () => resolve()),
  );
  await assert.rejects(
    inspector.result(),
    (e: unknown) => isVerificationFailure(e) && /pg_restore could not read/.test(e.message),
  );
});

test('a read-through that fails half-way stops the archive stream at once, with the reason', async () => {
  const { Readable, Writable, pipeline } = await import('node:stream');
  const { setTimeout: sleep } = await import('node:timers/promises');
  const inspector = startArchiveInspector('/usr/lib/postgresql/15/bin/pg_restore');
  let produced = 0;
  // 200 MiB of garbage, slowly: pg_restore gives up on the first bytes, long before the end.
  const source = Readable.from(
    (async function* () {
      for (let i = 0; i < 200; i++) {
        produced++;
        yield Buffer.alloc(1 << 20, i);
        await sleep(5);
      }
    })(),
  );
  const sink = new Writable({
    write(_chunk, _encoding, done) {
      done();
    },
  });
  const error = await new Promise<Error | null>((resolve) =>
    pipeline(source, inspector.tap, sink, (e) => resolve(e ?? null)),
  );
  assert.ok(
    isVerificationFailure(error) && /pg_restore could not read the archive through/.test(error.message),
    String(error),
  );
  assert.ok(produced < 200, `stopped after ${produced} of 200 chunks`);
});

for (const format of ['default', 'fast'] as const) {
  test(`a ${format} capture proves the stored object holds the archive read through while dumping, and refuses one that does not`, async () => {
    const captured = await captureArchive({
      source: directSource(source),
      hosts: LOOPBACK_ALLOWED,
      store,
      format,
      key: (plan) => `tenants/t/proof-${format}/attempt-1${plan.format.fileExtension}`,
    });
    const stored = await readStored(captured.key);
    const raw = format === 'fast' ? (await import('node:zlib')).zstdDecompressSync(stored) : stored;
    const listing = await listArchive(raw);
    const readThrough = { rawBytes: raw.length, listing };
    const options = { pgRestore: captured.plan.binaries.pgRestore, wrapper: captured.plan.format.wrapper, readThrough };
    const ok = await verifyArchive(store, captured.key, captured.stored, options);
    assert.equal(ok.tocEntries, captured.verified.tocEntries);
    // The same stored object, but a read-through of other bytes (one byte more), or of another table of contents.
    await assert.rejects(
      verifyArchive(store, captured.key, captured.stored, {
        ...options,
        readThrough: { ...readThrough, rawBytes: raw.length + 1 },
      }),
      /read through while dumping/,
    );
    await assert.rejects(
      verifyArchive(store, captured.key, captured.stored, { ...options, readThrough: { ...readThrough, listing: '' } }),
      /table of contents differs/,
    );
  });
}

test('a zstd-wrapped archive whose frame checksum does not match what was read through fails verification', async () => {
  const zlib = await import('node:zlib');
  const captured = await captureArchive({
    source: directSource(source),
    hosts: LOOPBACK_ALLOWED,
    store,
    format: 'fast',
    key: () => 'tenants/t/checksum/attempt-1.dump.zst',
  });
  const raw = zlib.zstdDecompressSync(await readStored(captured.key));
  // What a faulty compressor would have written: a frame that decodes, to the right length, but not to the
  // bytes it was fed. Its stored digest is consistent (it is computed over whatever was stored), so only
  // the frame's own content checksum (the last 4 bytes: XXH64 of the input) can tell.
  const frame = zlib.zstdCompressSync(raw, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
  frame[frame.length - 1]! ^= 0x01;
  const { Readable } = await import('node:stream');
  const stored = await store.upload('tenants/t/checksum/attempt-2.dump.zst', Readable.from([frame]), {});
  const options = {
    pgRestore: captured.plan.binaries.pgRestore,
    wrapper: 'zstd' as const,
    readThrough: { rawBytes: raw.length, listing: await listArchive(raw) },
  };
  await assert.rejects(
    verifyArchive(store, stored.key, stored, options),
    (e: unknown) => isVerificationFailure(e) && /does not decompress/.test(e.message) && /checksum/i.test(e.message),
    'a checksum mismatch',
  );
  // The same frame with its checksum intact passes, so the refusal above is the checksum's doing.
  frame[frame.length - 1]! ^= 0x01;
  const good = await store.upload('tenants/t/checksum/attempt-3.dump.zst', Readable.from([frame]), {});
  await verifyArchive(store, good.key, good, options);
});

test('the zstd check beside the dump counts what the stored stream decodes to, and stops the stream on a bad frame', async () => {
  const zlib = await import('node:zlib');
  const { Readable, Writable, pipeline } = await import('node:stream');
  const { startZstdCheck } = await import('../../../src/engine/wrapper-check.ts');
  const raw = Buffer.concat(Array.from({ length: 64 }, (_, i) => Buffer.alloc(256 * 1024, i)));
  const frame = zlib.zstdCompressSync(raw, { params: { [zlib.constants.ZSTD_c_checksumFlag]: 1 } });
  const run = async (bytes: Buffer) => {
    const check = startZstdCheck();
    let passed = 0;
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        passed += chunk.length;
        done();
      },
    });
    const chunks = Array.from({ length: Math.ceil(bytes.length / 4096) }, (_, i) =>
      bytes.subarray(i * 4096, (i + 1) * 4096),
    );
    const streamError = await new Promise<Error | null>((resolve) =>
      pipeline(Readable.from(chunks), check.tap, sink, (e) => resolve(e ?? null)),
    );
    return { streamError, passed, result: check.result() };
  };
  const good = await run(frame);
  assert.equal(good.streamError, null);
  assert.equal(good.passed, frame.length, 'every compressed byte goes on to storage');
  assert.equal(await good.result, raw.length);

  const flipped = Buffer.from(frame);
  flipped[flipped.length - 2]! ^= 0x10;
  const bad = await run(flipped);
  assert.ok(
    isVerificationFailure(bad.streamError) && /does not decode/.test(bad.streamError.message),
    String(bad.streamError),
  );
  await assert.rejects(bad.result, isVerificationFailure);

  const cut = await run(frame.subarray(0, frame.length - 100));
  await assert.rejects(cut.result, /does not decode/);
});

test('verification after a zstd check decodes only the head, and refuses a check that decoded to other than what was read through', async () => {
  const zlib = await import('node:zlib');
  const captured = await captureArchive({
    source: directSource(source),
    hosts: LOOPBACK_ALLOWED,
    store,
    format: 'fast',
    key: () => 'tenants/t/head-only/attempt-1.dump.zst',
  });
  const raw = zlib.zstdDecompressSync(await readStored(captured.key));
  const readThrough = { rawBytes: raw.length, listing: await listArchive(raw), wrapperDecodedBytes: raw.length };
  const options = { pgRestore: captured.plan.binaries.pgRestore, wrapper: 'zstd' as const, readThrough };
  const ok = await verifyArchive(store, captured.key, captured.stored, options);
  assert.equal(ok.tocEntries, captured.verified.tocEntries);
  assert.equal(ok.sha256, captured.stored.sha256);
  await assert.rejects(
    verifyArchive(store, captured.key, captured.stored, {
      ...options,
      readThrough: { ...readThrough, wrapperDecodedBytes: raw.length - 1 },
    }),
    /does not decompress to the archive that was read through/,
  );
  // The digest still covers every stored byte when only the head is decoded.
  await assert.rejects(
    verifyArchive(store, captured.key, { ...captured.stored, sha256: '0'.repeat(64) }, options),
    isVerificationFailure,
  );
});

/** pg_restore processes this test process started that are still running. */
function ownRestoreProcesses(): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        return stat.includes('(pg_restore)') && Number(fields[1]) === process.pid;
      } catch {
        return false; // gone meanwhile
      }
    })
    .map(Number);
}

test('a read-back that fails leaves no pg_restore running', async () => {
  const s3 = await startS3Server();
  try {
    const s3Store = await openObjectStore(s3.url('readback'), s3.env);
    const captured = await captureArchive({
      source: directSource(source),
      hosts: LOOPBACK_ALLOWED,
      store: s3Store,
      format: 'default',
      key: () => 'tenants/t/readback/attempt-1.dump',
    });
    s3.faults = { failGetObjectOf: captured.key };
    for (const readThrough of [undefined, { rawBytes: captured.dump.rawBytes, listing: '' }]) {
      await assert.rejects(
        verifyArchive(s3Store, captured.key, captured.stored, {
          pgRestore: captured.plan.binaries.pgRestore,
          wrapper: 'none',
          ...(readThrough ? { readThrough } : {}),
        }),
        /InternalError/,
      );
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.deepEqual(ownRestoreProcesses(), [], 'no pg_restore left waiting on its stdin');
    }
    await s3Store.close();
  } finally {
    await s3.close();
  }
});

test('a pg_restore that cannot start fails verification with the reason, instead of crashing or hanging', async () => {
  const captured = await captureArchive({
    source: directSource(source),
    hosts: LOOPBACK_ALLOWED,
    store,
    format: 'default',
    key: () => 'tenants/t/nobin/attempt-1.dump',
  });
  const missing = path.join(root, 'no-such-bin', 'pg_restore');
  await assert.rejects(
    verifyArchive(store, captured.key, captured.stored, { pgRestore: missing, wrapper: 'none' }),
    (error: unknown) => isVerificationFailure(error) && /could not start .*pg_restore.*ENOENT/.test(error.message),
  );
  const inspector = startArchiveInspector(missing);
  inspector.tap.end(readFileSync(path.join(root, 'tenants/t/nobin/attempt-1.dump')));
  await assert.rejects(inspector.result(), /could not start .*pg_restore.*ENOENT/);
});

for (const [what, suffix] of [
  ['a read-back', ''],
  ['the stored manifest', '.manifest.json'],
] as const) {
  test(`${what} that fails for a moment is read again, and the stored archive is kept and verified`, async () => {
    const s3 = await startS3Server();
    try {
      const s3Store = await openObjectStore(s3.url('flaky-read'), s3.env);
      const logs: string[] = [];
      const captured = await captureArchive({
        source: directSource(source),
        hosts: LOOPBACK_ALLOWED,
        store: s3Store,
        format: 'default',
        key: () => 'tenants/t/flaky-read/attempt-1.dump',
        onLog: (line) => logs.push(line),
        // Every request of the first read-back fails (the client tries 5 times); the second read works.
        onStored: async (stored) => {
          s3.faults = { failGetObjectOf: stored.key + suffix, failGetObjectTimes: 5 };
        },
      });
      assert.equal(captured.verified.sha256, captured.stored.sha256);
      assert.ok(await s3Store.head(captured.key), 'the archive is kept');
      assert.ok(
        logs.some((line) => /reading the archive back failed.*reading it again/.test(line)),
        logs.join('\n'),
      );
      await s3Store.close();
    } finally {
      await s3.close();
    }
  });
}
