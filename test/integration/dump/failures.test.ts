import test, { before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import pg from 'pg';
import {
  startDump,
  prepareDump,
  runDump,
  directSource,
  isDumpFailure,
  type DumpRun,
} from '../../../src/engine/index.ts';
import { Secret } from '../../../src/shared/redact.ts';
import type { BackupFailure } from '../../../src/shared/backup-failure.ts';
import {
  LOOPBACK_ALLOWED_OPTIONS,
  startSourceServer,
  seedSourceDatabase,
  type SourceServer,
} from '../../support/seed-source.ts';

let server: SourceServer;
let sourceUrl: string;
let tmpDir: string;

before(async () => {
  tmpDir = mkdtempSync(path.join(os.tmpdir(), 'bb-dump-tmp-'));
  server = await startSourceServer();
  // ~15 MB of poorly compressible rows: far more than the pipes buffer, so an unread dump blocks mid-table.
  sourceUrl = await seedSourceDatabase(server, 'source', { bigTableRows: 150_000 });
});
after(async () => {
  await server?.stop();
  rmSync(tmpDir, { recursive: true, force: true });
});

async function waitFor(what: string, predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Starts a dump nobody reads, and waits until pg_dump is blocked copying `public.big`. */
async function startBlockedDump(options: { signal?: AbortSignal; logs?: string[] } = {}): Promise<DumpRun> {
  const run = await startDump(directSource(sourceUrl), {
    ...LOOPBACK_ALLOWED_OPTIONS,
    tmpDir,
    signal: options.signal,
    onLog: (line) => options.logs?.push(line),
  });
  await waitFor('pg_dump to reach public.big', () => run.progress().currentTable === 'public.big');
  let last = -1;
  await waitFor('pg_dump to block on its full pipe', async () => {
    const now = run.progress().rawBytes;
    const still = now === last;
    last = now;
    await new Promise((resolve) => setTimeout(resolve, 150));
    return still;
  });
  return run;
}

async function drain(stream: Readable): Promise<unknown> {
  try {
    for await (const chunk of stream) void chunk;
    return undefined;
  } catch (error) {
    return error;
  }
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function dumpBackends(): Promise<number[]> {
  const client = new pg.Client(server.url('postgres'));
  await client.connect();
  try {
    const result = await client.query<{ pid: number }>(
      `select pid from pg_stat_activity where application_name = 'big-backup'`,
    );
    return result.rows.map((row) => row.pid);
  } finally {
    await client.end();
  }
}

function assertClean(error: BackupFailure): void {
  assert.ok(!error.message.includes(server.password), error.message);
  assert.ok(!(error.detail.stderrTail ?? []).join('\n').includes(server.password));
  assert.deepEqual(readdirSync(tmpDir), [], 'the password file is removed');
}

test('a wrong password fails within seconds, before and inside pg_dump, and never prompts', async () => {
  const wrongUrl = new URL(sourceUrl);
  wrongUrl.password = 'wrong-password-1234';
  const started = Date.now();
  await assert.rejects(prepareDump(directSource(wrongUrl.toString()), LOOPBACK_ALLOWED_OPTIONS), (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'connection_failed');
    assert.equal(error.retryable, false);
    assert.match(error.message, /password authentication failed/);
    assert.ok(!error.message.includes('wrong-password-1234'));
    return true;
  });

  // pg_dump itself, with -w and a password file holding the wrong password.
  const plan = await prepareDump(directSource(sourceUrl), LOOPBACK_ALLOWED_OPTIONS);
  const run = await runDump(
    { ...plan, connection: { ...plan.connection, password: new Secret('wrong-password-1234') } },
    { tmpDir },
  );
  const streamError = await drain(run.stdout);
  await assert.rejects(run.done, (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'connection_failed');
    assert.equal(error.retryable, false);
    assert.match(error.message, /password authentication failed/);
    assert.ok(!error.message.includes('wrong-password-1234'));
    assertClean(error);
    return true;
  });
  assert.ok(isDumpFailure(streamError), 'the archive stream errors instead of ending');
  assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
});

test("terminating pg_dump's connection mid-dump fails the run with a sanitized reason", async () => {
  const logs: string[] = [];
  const run = await startBlockedDump({ logs });
  const [backend] = await dumpBackends();
  assert.ok(backend, 'pg_dump has a backend');
  await server.run('postgres', `select pg_terminate_backend(${backend})`);
  const streamError = await drain(run.stdout);
  await assert.rejects(run.done, (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'dump_failed');
    assert.equal(error.retryable, true);
    assert.equal(error.detail.exitCode, 1);
    assert.match(
      error.message,
      /^pg_dump exited with code 1: .*(terminating connection|server closed the connection|PQgetCopyData)/,
    );
    assertClean(error);
    return true;
  });
  assert.ok(isDumpFailure(streamError), 'a consumer sees an error, not a clean end of a truncated archive');
  assert.ok(!logs.join('\n').includes(server.password));
});

test('aborting mid-dump kills pg_dump within seconds and rejects as canceled', async () => {
  const controller = new AbortController();
  const run = await startBlockedDump({ signal: controller.signal });
  assert.ok(processExists(run.pid));
  const streamError = drain(run.stdout);
  const started = Date.now();
  controller.abort();
  await assert.rejects(run.done, (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'canceled');
    assert.equal(error.retryable, false);
    assertClean(error);
    return true;
  });
  assert.ok(Date.now() - started < 4000, `took ${Date.now() - started} ms`);
  assert.ok(!processExists(run.pid), 'pg_dump is gone');
  assert.ok(!processExists(-run.pid), 'its process group is gone');
  assert.ok(isDumpFailure(await streamError));
  await waitFor('the server backend to go away', async () => (await dumpBackends()).length === 0, 5000);
});

test('a consumer that destroys the stream stops pg_dump', async () => {
  const run = await startBlockedDump();
  run.stdout.destroy();
  await assert.rejects(run.done, (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'canceled');
    assert.match(error.message, /closed before pg_dump finished/);
    return true;
  });
  assert.ok(!processExists(run.pid));
});

test('when storage takes no bytes, the watchdog stops the dump and names storage, not pg_dump', async () => {
  // Nobody reads the archive: pg_dump fills the pipe (or finishes) and then waits on the consumer.
  const run = await startDump(directSource(sourceUrl), {
    ...LOOPBACK_ALLOWED_OPTIONS,
    tmpDir,
    stallTimeoutMs: 1500,
    coalesceBytes: 4096,
  });
  await assert.rejects(run.done, (error: unknown) => {
    assert.ok(isDumpFailure(error));
    assert.equal(error.kind, 'stalled');
    assert.equal(error.retryable, true);
    assert.match(error.message, /storage took no archive bytes for 2 s/);
    assert.doesNotMatch(error.message, /pg_dump produced no output/);
    return true;
  });
  assert.ok(!processExists(run.pid));
});

test('the watchdog stops a dump blocked on a lock, and the password stays out of argv and the environment', async () => {
  const locker = new pg.Client(sourceUrl);
  await locker.connect();
  try {
    await locker.query('begin');
    await locker.query('lock table public.customers in access exclusive mode');
    const started = Date.now();
    const run = await startDump(directSource(sourceUrl), { ...LOOPBACK_ALLOWED_OPTIONS, tmpDir, stallTimeoutMs: 1500 });
    const streamError = drain(run.stdout);

    const cmdline = readFileSync(`/proc/${run.pid}/cmdline`, 'utf8').split('\0');
    const environ = readFileSync(`/proc/${run.pid}/environ`, 'utf8').split('\0');
    for (const text of [...cmdline, ...environ, ...run.argv]) {
      assert.ok(!text.includes(server.password) && !text.includes(encodeURIComponent(server.password)), text);
    }
    assert.ok(!environ.some((entry) => entry.startsWith('PGPASSWORD=')));
    const passfile = environ.find((entry) => entry.startsWith('PGPASSFILE='))?.slice('PGPASSFILE='.length);
    assert.ok(passfile && existsSync(passfile), 'pg_dump gets a password file');
    assert.equal(statSync(passfile).mode & 0o777, 0o600);
    assert.equal(statSync(path.dirname(passfile)).mode & 0o777, 0o700);

    await assert.rejects(run.done, (error: unknown) => {
      assert.ok(isDumpFailure(error));
      assert.equal(error.kind, 'stalled');
      assert.equal(error.retryable, true);
      return true;
    });
    const elapsed = Date.now() - started;
    assert.ok(elapsed >= 1500 && elapsed < 6000, `took ${elapsed} ms`);
    assert.ok(!processExists(run.pid));
    assert.ok(!existsSync(passfile), 'the password file is removed');
    assert.ok(isDumpFailure(await streamError));
  } finally {
    await locker.query('rollback').catch(() => {});
    await locker.end();
  }
});
