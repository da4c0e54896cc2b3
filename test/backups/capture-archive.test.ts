import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startSourceServer, seedSourceDatabase, fingerprintDatabase, restoreArchive, listArchive } from '../support/seed-source.ts';
import { openObjectStore } from '../../src/storage/open-object-store.ts';
import { directSource } from '../../src/dump/index.ts';
import { captureArchive } from '../../src/backups/capture-archive.ts';
import { verifyArchive, VerificationError } from '../../src/backups/verify-archive.ts';
import { startArchiveInspector } from '../../src/backups/archive-inspector.ts';

const server = await startSourceServer();
after(() => server.stop());
const source = await seedSourceDatabase(server, 'shop');
const root = mkdtempSync(path.join(os.tmpdir(), 'bb-capture-'));
const store = await openObjectStore(`file://${root}`, {});
after(() => store.close());

async function readStored(key: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

for (const format of ['default', 'fast'] as const) {
  test(`captures a ${format} archive that is stored, verified and restores to the same contents`, async () => {
    const logs: string[] = [];
    const captured = await captureArchive({
      source: directSource(source), store, format, key: (plan) => `tenants/t/${format}/attempt-1${plan.format.fileExtension}`,
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
    const expected = Object.fromEntries(Object.entries(await fingerprintDatabase(source)).filter(([k]) => !k.includes('heroku_ext.')));
    assert.deepEqual(await fingerprintDatabase(target), expected);
  });
}

test('verification fails on one flipped byte and on a truncated object', async () => {
  const captured = await captureArchive({ source: directSource(source), store, format: 'default', key: () => 'tenants/t/flip/attempt-1.dump' });
  const file = path.join(root, 'tenants/t/flip/attempt-1.dump');
  const original = readFileSync(file);
  const flipped = Buffer.from(original);
  flipped[Math.floor(flipped.length / 2)]! ^= 0x01;
  writeFileSync(file, flipped);
  await assert.rejects(verifyArchive(store, captured.key, captured.stored, { pgRestore: captured.plan.binaries.pgRestore, wrapper: 'none' }), VerificationError);
  writeFileSync(file, original.subarray(0, original.length - 100));
  await assert.rejects(verifyArchive(store, captured.key, captured.stored, { pgRestore: captured.plan.binaries.pgRestore, wrapper: 'none' }), /bytes/);
  writeFileSync(file, original);
  const ok = await verifyArchive(store, captured.key, captured.stored, { pgRestore: captured.plan.binaries.pgRestore, wrapper: 'none' });
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
    source: directSource(source), store, format: 'default', key: () => 'tenants/t/cancel/attempt-1.dump', signal: controller.signal,
    onPlan: async () => { setTimeout(() => controller.abort(), 50); },
  });
  await assert.rejects(done);
  const dir = path.join(root, 'tenants/t/cancel');
  const left = (() => { try { return readdirSync(dir); } catch { return []; } })();
  assert.deepEqual(left, []);
});

test('the read-through while dumping refuses a stream that is not an archive', async () => {
  const { Readable, pipeline } = await import('node:stream');
  const { Writable } = await import('node:stream');
  const inspector = startArchiveInspector('/usr/lib/postgresql/15/bin/pg_restore');
  const sink = new Writable({ write(_chunk, _encoding, done) { done(); } });
  await new Promise<void>((resolve) => pipeline(Readable.from([Buffer.alloc(1 << 20, 7), Buffer.alloc(1 << 20, 9)]), inspector.tap, sink, () => resolve()));
  await assert.rejects(inspector.result(), (e: unknown) => e instanceof VerificationError && /pg_restore could not read/.test(e.message));
});

test('a read-through that fails half-way stops the archive stream at once, with the reason', async () => {
  const { Readable, Writable, pipeline } = await import('node:stream');
  const { setTimeout: sleep } = await import('node:timers/promises');
  const inspector = startArchiveInspector('/usr/lib/postgresql/15/bin/pg_restore');
  let produced = 0;
  // 200 MiB of garbage, slowly: pg_restore gives up on the first bytes, long before the end.
  const source = Readable.from((async function* () { for (let i = 0; i < 200; i++) { produced++; yield Buffer.alloc(1 << 20, i); await sleep(5); } })());
  const sink = new Writable({ write(_chunk, _encoding, done) { done(); } });
  const error = await new Promise<Error | null>((resolve) => pipeline(source, inspector.tap, sink, (e) => resolve(e ?? null)));
  assert.ok(error instanceof VerificationError && /pg_restore could not read the archive through/.test(error.message), String(error));
  assert.ok(produced < 200, `stopped after ${produced} of 200 chunks`);
});

for (const format of ['default', 'fast'] as const) {
  test(`a ${format} capture proves the stored object holds the archive read through while dumping, and refuses one that does not`, async () => {
    const captured = await captureArchive({ source: directSource(source), store, format, key: (plan) => `tenants/t/proof-${format}/attempt-1${plan.format.fileExtension}` });
    const stored = await readStored(captured.key);
    const raw = format === 'fast' ? (await import('node:zlib')).zstdDecompressSync(stored) : stored;
    const { createHash } = await import('node:crypto');
    const listing = await listArchive(raw);
    const readThrough = { rawSha256: createHash('sha256').update(raw).digest('hex'), rawBytes: raw.length, listing };
    const options = { pgRestore: captured.plan.binaries.pgRestore, wrapper: captured.plan.format.wrapper, readThrough };
    const ok = await verifyArchive(store, captured.key, captured.stored, options);
    assert.equal(ok.tocEntries, captured.verified.tocEntries);
    // The same stored object, but a read-through of other bytes (a different archive, or one byte off).
    const other = { ...readThrough, rawSha256: createHash('sha256').update(Buffer.concat([raw, Buffer.from([0])])).digest('hex') };
    await assert.rejects(verifyArchive(store, captured.key, captured.stored, { ...options, readThrough: other }), /read through while dumping/);
    await assert.rejects(verifyArchive(store, captured.key, captured.stored, { ...options, readThrough: { ...readThrough, listing: '' } }), /table of contents differs/);
  });
}
