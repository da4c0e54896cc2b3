import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { runCli, startCommand } from './run-cli.ts';

describe('big-backup usage', () => {
  test("--help prints each command's usage on stdout and exits 0", async () => {
    const cases: Array<[string[], RegExp]> = [
      [['--help'], /^Usage: big-backup <command> \[options\]$/m],
      [
        ['capture', '-h'],
        /^Usage: big-backup capture --source <database-url\|env:NAME> --to <storage-url> \[options\]$/m,
      ],
      [['help', 'verify'], /^Usage: big-backup verify --from <storage-url> --key <key> \[options\]$/m],
    ];
    const runs = await Promise.all(cases.map(([args]) => runCli(args)));
    runs.forEach((run, index) => {
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, cases[index]![1]);
      assert.equal(run.stderr, '');
    });
  });

  test('usage errors exit 2 with one message, a hint and nothing on stdout', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['backup'], /unknown command "backup"/],
      [['capture', '--to', 'file:///tmp/x'], /--source is required/],
      [
        ['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--format', 'zip'],
        /--format must be default or fast, not "zip"/,
      ],
      [['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--bogus'], /unknown option "--bogus"/],
      [['capture', '--source', '--to', 'file:///tmp/x'], /--source needs a value/],
      [['capture', '--source', 'env:NOT_SET', '--to', 'file:///tmp/x'], /the environment variable NOT_SET is not set/],
      [['capture', '--source', 'env:DB', '--to', 'ftp://host/x'], /unsupported storage URL scheme "ftp:"/],
      [
        ['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--key', '../escape.dump'],
        /invalid storage key "\.\.\/escape\.dump"/,
      ],
      [
        ['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', 'postgres://u:hunter22@h/db'],
        /unexpected argument "postgres:\/\/u:\[redacted\]@h\/db"/,
      ],
      [
        ['capture', '--source', 'env:NOT_PG', '--to', 'file:///tmp/x'],
        /the database URL is not usable: the scheme must be postgres/,
      ],
      [['verify', '--from', 'file:///tmp/x'], /--key is required/],
      [['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--parallel', '0'], /--parallel must be a whole/],
      [
        ['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--split-size', '8MB'],
        /--split-size needs --parallel 2 or more/,
      ],
      [
        ['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--parallel', '2', '--split-size', '8 bananas'],
        /--split-size must be a size/,
      ],
      [
        ['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--parallel', '2', '--resume'],
        /--resume needs --key/,
      ],
    ];
    const runs = await Promise.all(
      cases.map(([args]) => runCli(args, { DB: 'postgres://u:hunter22@h/db', NOT_PG: 'mysql://u:hunter22@h/db' })),
    );
    runs.forEach((run, index) => {
      const [args, message] = cases[index]!;
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      const lines = run.stderr.trimEnd().split('\n');
      assert.equal(lines.length, 2, run.stderr);
      assert.match(lines[0]!, /^big-backup: error: /);
      assert.match(lines[0]!, message);
      assert.match(lines[1]!, /^hint: /);
      assert.equal(run.stdout, '');
      assert.ok(!run.stderr.includes('hunter22'), run.stderr);
    });
  });

  test('with --json, a usage error also prints one failure object on stdout', async () => {
    const run = await runCli(['capture', '--json', '--source', 'env:DB', '--to', 'file:///tmp/x', '--format', 'zip'], {
      DB: 'postgres://u:hunter22@h/db',
    });
    assert.equal(run.code, 2, run.stderr);
    const result = JSON.parse(run.stdout) as {
      verified: boolean;
      error: { code: string; message: string; hint?: string };
    };
    assert.equal(result.verified, false);
    assert.match(result.error.message, /--format must be default or fast, not "zip"/);
    assert.ok(result.error.hint);
    assert.ok(!run.stdout.includes('hunter22'));
    const afterEnd = await runCli(['capture', '--source', 'env:DB', '--to', 'file:///tmp/x', '--', '--json']);
    assert.equal(afterEnd.stdout, '', 'a --json after -- is not an option');
  });

  test('npx big-backup runs the bin from the checkout, with the collector exposed as the worker has it', async () => {
    // A preload in every node process npx starts reports, from the bin's process only, whether gc() exists.
    const dir = await mkdtemp(path.join(os.tmpdir(), 'bb-npx-'));
    const probe = path.join(dir, 'probe.cjs');
    await writeFile(
      probe,
      "if (/big-backup/.test(process.argv[1] || '')) process.stderr.write('gc:' + typeof globalThis.gc + '\\n');\n",
    );
    const { code, stdout, stderr } = await startCommand('npx', ['--no-install', 'big-backup', 'verify', '--help'], {
      PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ''}`,
      HOME: process.env.HOME ?? '/root',
      NODE_OPTIONS: `--require=${probe}`,
    }).done;
    await rm(dir, { recursive: true, force: true });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^Usage: big-backup verify /m);
    // The garbage pacer (src/engine/garbage-pacer.ts) works only with --expose-gc.
    assert.match(stderr, /^gc:function$/m);
  });
});
