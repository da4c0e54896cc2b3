import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { CopyBinaries } from './binaries.ts';

/** Connection fields of a postgres URL, as pg_dump/pg_restore take them apart from the password. */
interface Target {
  host: string;
  port: string;
  user: string;
  password: string;
  database: string;
  sslmode: string | null;
}

/**
 * Copies one database into another (already created, empty) one: `pg_dump -Fc | pg_restore`. pg_dump
 * takes one snapshot when it starts, so the copy is the source as it was at that moment. Passwords go
 * through a 0600 PGPASSFILE in a private folder, never argv or the environment.
 */
export async function copyDatabase(
  bin: CopyBinaries,
  sourceUrl: string,
  targetUrl: string,
  signal: AbortSignal,
): Promise<void> {
  const source = parse(sourceUrl);
  const target = parse(targetUrl);
  const folder = await mkdtemp(path.join(os.tmpdir(), 'sim-pgpass-'));
  const passFile = path.join(folder, 'pgpass');
  try {
    await writeFile(passFile, [source, target].map(pgpassLine).join('\n') + '\n', { mode: 0o600, flag: 'wx' });
    const dump = start(
      bin.pgDump,
      ['--format=custom', '--no-owner', '--no-acl', ...connectionArgs(source)],
      source,
      passFile,
      signal,
    );
    const restore = start(
      bin.pgRestore,
      ['--no-owner', '--no-acl', ...connectionArgs(target)],
      target,
      passFile,
      signal,
    );
    dump.child.stdout!.pipe(restore.child.stdin!);
    // If pg_restore dies first, pg_dump gets EPIPE; its own exit code reports that.
    restore.child.stdin!.on('error', () => {});
    const [dumpExit, restoreExit] = await Promise.all([dump.exit, restore.exit]);
    if (signal.aborted) throw new Error('the copy was stopped');
    if (dumpExit !== 0) throw new Error(`pg_dump exited with ${dumpExit}: ${dump.stderr().slice(-500)}`);
    if (restoreExit !== 0) throw new Error(`pg_restore exited with ${restoreExit}: ${restore.stderr().slice(-500)}`);
  } finally {
    await rm(folder, { recursive: true, force: true });
  }
}

function start(
  file: string,
  args: string[],
  target: Target,
  passFile: string,
  signal: AbortSignal,
): { child: ChildProcess; exit: Promise<number | null>; stderr: () => string } {
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    LC_ALL: 'C',
    PGPASSFILE: passFile,
    PGCONNECT_TIMEOUT: '10',
  };
  if (target.sslmode) env.PGSSLMODE = target.sslmode;
  const child = spawn(file, args, { stdio: ['pipe', 'pipe', 'pipe'], env, signal, killSignal: 'SIGKILL' });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exit = new Promise<number | null>((resolve) => {
    child.once('error', () => resolve(null));
    child.once('close', (code) => resolve(code));
  });
  return { child, exit, stderr: () => stderr };
}

function connectionArgs(t: Target): string[] {
  return ['--host', t.host, '--port', t.port, '--username', t.user, '--dbname', t.database, '--no-password'];
}

function parse(url: string): Target {
  const u = new URL(url);
  return {
    host: u.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: u.port || '5432',
    user: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    database: decodeURIComponent(u.pathname.replace(/^\//, '')),
    sslmode: u.searchParams.get('sslmode'),
  };
}

function pgpassLine(t: Target): string {
  return [t.host, t.port, t.database, t.user, t.password].map((v) => v.replace(/[\\:]/g, (c) => '\\' + c)).join(':');
}
