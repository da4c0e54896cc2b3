import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import zlib from 'node:zlib';
import type { ObjectStore } from '../storage/object-store.ts';
import { loaderEnv } from './pg-binaries.ts';
import { writePasswordFile } from './password-file.ts';
import type { ConnectionParams } from './source.ts';

/** Spool folders are named `bb-drill-spool-<pid>-XXXXXX`, so a dead process's are recognised. */
const SPOOL_PREFIX = 'bb-drill-spool-';

/**
 * Removes spool folders left by processes that no longer run (a worker killed mid-restore cannot
 * remove its own); a worker calls it at start. Returns the folders removed.
 */
export async function removeStaleSpools(dir: string = os.tmpdir()): Promise<string[]> {
  const removed: string[] = [];
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    const pid = Number(/^bb-drill-spool-(\d+)-/.exec(name)?.[1]);
    if (!Number.isInteger(pid) || pid <= 0 || isAlive(pid)) continue;
    await rm(path.join(dir, name), { recursive: true, force: true });
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Lines of pg_restore's stderr kept as the drill's warnings. */
const MAX_WARNINGS = 200;

export interface RestoreArchiveOptions {
  store: Pick<ObjectStore, 'read'>;
  key: string;
  /** The stored archive's size (the spool decision needs it before reading). */
  bytes: number;
  /** The empty database to restore into. */
  target: ConnectionParams;
  pgRestore: string;
  /** pg_restore -j: parallel jobs, which need the archive as a seekable file. */
  jobs: number;
  /**
   * Where the archive may be spooled for a parallel restore, and how large it may be. An archive larger
   * than `maxBytes`, or than the folder's free space less a tenth, is restored by one job from stdin.
   */
  spool?: { dir?: string; maxBytes: number };
  signal?: AbortSignal;
}

export interface RestoredArchive {
  seconds: number;
  /** How it was restored: a spooled file with -j N, or one job reading the stream. */
  mode: 'parallel-file' | 'stream';
  jobs: number;
  exitCode: number | null;
  /** pg_restore's stderr lines (errors it went past, warnings), at most MAX_WARNINGS. */
  warnings: string[];
}

/**
 * Restores a stored archive into an empty database with stock pg_restore, as a customer would
 * (`--no-owner --no-acl`), and times it. pg_restore -j needs a seekable file: when the archive fits
 * `spool`, it is written to a private temporary folder first (removed afterwards, whatever happens)
 * and restored with `-j jobs`; otherwise, and for the zstd-wrapped fast format, the object is streamed
 * into a single-job pg_restore's stdin. pg_restore is not stopped at its first error: what it could
 * not restore shows in the comparison, and its messages are returned as warnings.
 */
export async function restoreArchive(options: RestoreArchiveOptions): Promise<RestoredArchive> {
  const started = Date.now();
  const wrapped = options.key.endsWith('.zst');
  const spoolDir = options.spool?.dir ?? os.tmpdir();
  const spoolable =
    !wrapped &&
    options.jobs > 1 &&
    options.spool !== undefined &&
    options.bytes <= options.spool.maxBytes &&
    (await freeBytes(spoolDir)) * 0.9 > options.bytes;
  const password = await writePasswordFile(options.target);
  let folder: string | undefined;
  try {
    const { target } = options;
    const addresses = target.addresses ?? [];
    const args = [
      '--no-owner',
      '--no-acl',
      `--host=${addresses.length > 1 ? addresses.map(() => target.host).join(',') : target.host}`,
      `--port=${target.port}`,
      `--username=${target.user}`,
      `--dbname=${target.database}`,
    ];
    const env: Record<string, string> = {
      PATH: '/usr/local/bin:/usr/bin:/bin',
      LC_ALL: 'C',
      PGPASSFILE: password.path,
      PGAPPNAME: 'big-backup-drill',
      PGCONNECT_TIMEOUT: '10',
      ...loaderEnv(),
    };
    if (addresses.length > 0) env.PGHOSTADDR = addresses.join(',');
    if (target.sslmode) env.PGSSLMODE = target.sslmode;
    let input: NodeJS.ReadableStream | undefined;
    if (spoolable) {
      folder = await mkdtemp(path.join(spoolDir, `${SPOOL_PREFIX}${process.pid}-`));
      const file = path.join(folder, 'archive.dump');
      await pipeline(
        await options.store.read(options.key, options.signal ? { signal: options.signal } : {}),
        createWriteStream(file, { mode: 0o600 }),
      );
      args.push(`--jobs=${options.jobs}`, file);
    } else {
      const body = await options.store.read(options.key, options.signal ? { signal: options.signal } : {});
      input = wrapped ? body.pipe(zlib.createZstdDecompress()) : body;
    }
    const child = spawn(options.pgRestore, args, { stdio: ['pipe', 'ignore', 'pipe'], env });
    const onAbort = () => child.kill('SIGKILL');
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const warnings: string[] = [];
    let partial = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim() && warnings.length < MAX_WARNINGS) warnings.push(line);
    });
    const exited = new Promise<number | null>((resolve) => {
      child.once('close', (code) => resolve(code));
      child.once('error', (error) => {
        warnings.push(`could not start pg_restore: ${error.message}`);
        resolve(null);
      });
    });
    child.stdin.on('error', () => {});
    if (input) {
      await pipeline(input, child.stdin).catch((error: unknown) => {
        if (!options.signal?.aborted) warnings.push(`reading the archive failed: ${(error as Error).message}`);
      });
    } else {
      child.stdin.end();
    }
    const exitCode = await exited;
    options.signal?.removeEventListener('abort', onAbort);
    options.signal?.throwIfAborted();
    if (partial.trim() && warnings.length < MAX_WARNINGS) warnings.push(partial);
    return {
      seconds: Math.round((Date.now() - started) / 100) / 10,
      mode: spoolable ? 'parallel-file' : 'stream',
      jobs: spoolable ? options.jobs : 1,
      exitCode,
      warnings,
    };
  } finally {
    await password.remove();
    if (folder) await rm(folder, { recursive: true, force: true });
  }
}

async function freeBytes(dir: string): Promise<number> {
  try {
    const stats = await statfs(dir);
    return stats.bavail * stats.bsize;
  } catch {
    return 0;
  }
}
