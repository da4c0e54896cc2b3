import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { restoreArchive, startSourceServer, type SourceServer } from '../../support/seed-source.ts';
import { fullFingerprint, restoreFromFile, seedShardedDatabase } from '../../support/sharded-source.ts';
import { filesUnder, jsonResult, runCli, sha256, startCli } from './run-cli.ts';

let server: SourceServer;
let fork: string;
let expected: Record<string, string>;
const root = mkdtempSync(path.join(os.tmpdir(), 'bb-cli-sharded-'));

before(async () => {
  server = await startSourceServer();
  // public.big: about 45 MB of heap, so `--split-size 8MB` cuts it into several ranges.
  fork = await seedShardedDatabase(server, 'fork', 350_000);
  expected = await fullFingerprint(fork);
});
after(async () => {
  await server?.stop();
  rmSync(root, { recursive: true, force: true });
});

/** Sealed piece records in the store: a record is written only after storage proved its piece. */
function sealedRecords(folder: string): string[] {
  return filesUnder(folder).filter((name) => /piece-\d{5}\.json\.manifest\.json$/.test(name));
}

describe('big-backup capture --parallel', () => {
  test('SIGKILLed part-way, the same command with --resume reuses the finished pieces and verifies the archive', async () => {
    const folder = path.join(root, 'resume');
    const args = [
      'capture',
      '--source',
      'env:FORK_URL',
      '--to',
      `file://${folder}`,
      '--parallel',
      '2',
      '--split-size',
      '8MB',
      '--key',
      'fork/K.dump',
      '--json',
    ];
    const first = startCli(args, { FORK_URL: fork });
    const deadline = Date.now() + 60_000;
    while (sealedRecords(folder).length === 0) {
      assert.ok(
        Date.now() < deadline && first.child.exitCode === null,
        `no piece finished before the run ended:\n${first.stderr()}`,
      );
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    first.child.kill('SIGKILL');
    const killed = await first.done;
    assert.equal(killed.signal, 'SIGKILL');
    const finished = sealedRecords(folder).length;
    assert.ok(finished >= 1);
    assert.ok(!filesUnder(folder).includes('fork/K.dump'), 'no archive yet');

    const second = await runCli([...args, '--resume'], { FORK_URL: fork });
    assert.equal(second.code, 0, second.stderr);
    const result = jsonResult(second);
    assert.equal(result.verified, true);
    assert.equal(result.mode, 'sharded');
    assert.match(String(result.modeReason), /cannot change while it is dumped; \d+ pieces/);
    assert.ok(Number(result.pieces) > finished, `pieces: ${String(result.pieces)}`);
    assert.equal(result.piecesReused, finished, 'every piece finished before the kill is reused, and only those');
    const file = String(result.path);
    assert.equal(file, path.join(folder, 'fork/K.dump'));
    const archive = readFileSync(file);
    assert.equal(result.sha256, sha256(archive));
    // Nothing but the archive and its manifest is left: no piece, record, plan or temporary file.
    assert.deepEqual(filesUnder(folder), ['fork/K.dump', 'fork/K.dump.manifest.json']);
    assert.deepEqual(await fullFingerprint(await restoreFromFile(server, 'resumed_parallel', file, 4)), expected);
    assert.deepEqual(await fullFingerprint(await restoreArchive(server, 'resumed_stdin', archive)), expected);
  });

  test('without --resume, a key with pieces of an earlier run is refused and they are left alone', async () => {
    const folder = path.join(root, 'refuse');
    const args = ['capture', '--source', 'env:FORK_URL', '--to', `file://${folder}`, '--parallel', '2'];
    const first = startCli([...args, '--split-size', '8MB', '--key', 'K.dump'], { FORK_URL: fork });
    while (sealedRecords(folder).length === 0) {
      assert.ok(first.child.exitCode === null, first.stderr());
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    first.child.kill('SIGKILL');
    await first.done;
    const before = filesUnder(folder).filter((name) => !name.endsWith('.partial'));
    const again = await runCli([...args, '--key', 'K.dump', '--json'], { FORK_URL: fork });
    assert.equal(again.code, 1, again.stderr);
    assert.equal((jsonResult(again).error as { code: string }).code, 'exists');
    assert.match(again.stderr, /^big-backup: error: pieces of an earlier capture are stored beside K\.dump$/m);
    assert.match(again.stderr, /^hint: run the same command with --resume/m);
    assert.deepEqual(
      filesUnder(folder).filter((name) => !name.endsWith('.partial')),
      before,
    );
  });
});
