import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { inspect } from 'node:util';
import zlib from 'node:zlib';
import type { Readable } from 'node:stream';
import { startDump, directSource, type DumpFormat, type DumpProgress } from '../../../src/engine/index.ts';
import {
  LOOPBACK_ALLOWED_OPTIONS,
  startSourceServer,
  seedSourceDatabase,
  fingerprintDatabase,
  restoreArchive,
  listArchive,
  type SourceServer,
} from '../../support/seed-source.ts';

let server: SourceServer;
let sourceUrl: string;
let tmpDir: string;

before(async () => {
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'bb-dump-tmp-'));
  server = await startSourceServer();
  sourceUrl = await seedSourceDatabase(server, 'source');
});
after(async () => {
  await server?.stop();
  rmSync(tmpDir, { recursive: true, force: true });
});

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

for (const format of ['default', 'fast'] as const satisfies readonly DumpFormat[]) {
  test(`a ${format} archive restores with stock pg_restore to the same per-table contents`, async () => {
    const logs: string[] = [];
    const progress: DumpProgress[] = [];
    const run = await startDump(directSource(sourceUrl), {
      ...LOOPBACK_ALLOWED_OPTIONS,
      format,
      tmpDir,
      onLog: (line) => logs.push(line),
      onProgress: (p) => progress.push(p),
    });
    const archive = await collect(run.stdout);
    const result = await run.done;

    assert.equal(result.bytesOut, archive.length);
    assert.equal(result.format.format, format);
    assert.equal(result.tablesDumped, 4);
    const plain = format === 'fast' ? zlib.zstdDecompressSync(archive) : archive;
    if (format === 'fast') {
      assert.deepEqual(archive.subarray(0, 4), ZSTD_MAGIC);
      assert.equal(result.format.wrapper, 'zstd');
      assert.equal(result.rawBytes, plain.length);
    }
    assert.equal(plain.subarray(0, 5).toString(), 'PGDMP');
    assert.match(await listArchive(plain), new RegExp(`Compression: ${format === 'fast' ? 0 : 2}\\b`));

    const restored = await restoreArchive(server, `restored_${format}`, plain);
    const expected = await fingerprintDatabase(sourceUrl);
    delete expected['table heroku_ext.not_ours'];
    assert.deepEqual(await fingerprintDatabase(restored), expected);

    assert.ok(
      logs.includes('pg_dump: dumping contents of table "Ünïcödé.Ñandú ☃"'),
      'the non-ASCII table shows in the log',
    );
    assert.ok(run.argv.includes('--exclude-schema=heroku_ext'));
    const last = progress.at(-1);
    assert.equal(last?.fractionDone, 1);
    assert.equal(last?.bytesOut, archive.length);

    const everything = [
      ...logs,
      ...run.argv,
      JSON.stringify(result),
      JSON.stringify(run.plan),
      inspect(run.plan, { depth: 10 }),
    ].join('\n');
    assert.ok(!everything.includes(server.password), 'no password in argv, logs, results or the plan');
    assert.ok(!everything.includes(encodeURIComponent(server.password)));
    assert.deepEqual(readdirSync(tmpDir), [], 'the password file is removed');
  });
}
