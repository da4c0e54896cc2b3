import { execFile } from 'node:child_process';
import { access, readdir, realpath } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { pgDumpMissing, versionMismatch } from './dump-failures.ts';

const execFileAsync = promisify(execFile);

/** A pg_dump and the pg_restore beside it. */
export interface PgBinaries {
  pgDump: string;
  pgRestore: string;
  /** 15 for 15.x; 9.6 for 9.6.x. */
  major: number;
  /** As printed by `pg_dump --version`, e.g. "15.18". */
  version: string;
}

/** Where to look for binaries. */
export interface FindBinariesOptions {
  /** A configured folder (PG_BIN_DIR); searched first. */
  binDir?: string;
  /** Parents of versioned folders (`NN/bin`), searched in order; default `defaultVersionedRoots()`. */
  versionedRoots?: string[];
  /** A PATH-style list of folders searched last; default the process's PATH, as a shell would. */
  searchPath?: string;
}

/**
 * The server majors a backup is supported for: Heroku Postgres's current ones and the next. The Aptfile
 * installs a postgresql-client for each (a test holds them equal), so every one gets its own pg_dump.
 */
export const SUPPORTED_SERVER_MAJORS = [14, 15, 16, 17, 18] as const;

/** The supported server majors that none of `found` can dump (none is at least as new). */
export function uncoveredServerMajors(found: readonly PgBinaries[]): number[] {
  return SUPPORTED_SERVER_MAJORS.filter((major) => !found.some((b) => b.major >= major));
}

/**
 * Debian's `/usr/lib/postgresql`, then the same tree where the Heroku apt buildpack unpacks the Aptfile's
 * packages: `$HOME/.apt` (HOME is /app on a dyno).
 */
export function defaultVersionedRoots(home: string | undefined = process.env.HOME): string[] {
  const roots = ['/usr/lib/postgresql'];
  if (home) roots.push(path.join(home, '.apt', 'usr', 'lib', 'postgresql'));
  return roots;
}

/**
 * Picks the pg_dump whose major is the smallest that is at least the server's: a closer version makes
 * an archive the customer's own pg_restore is most likely to read. Throws a non-retryable BackupFailure
 * naming both versions when none fits.
 */
export async function selectPgBinaries(serverMajor: number, options: FindBinariesOptions = {}): Promise<PgBinaries> {
  const { found, searched } = await listPgBinaries(options);
  const fitting = found.filter((b) => b.major >= serverMajor).sort((a, b) => a.major - b.major);
  const best = fitting[0];
  if (best) return best;
  const newest = [...found].sort((a, b) => b.major - a.major)[0];
  if (!newest) throw pgDumpMissing(serverMajor, searched);
  throw versionMismatch(serverMajor, { major: newest.major, path: newest.pgDump });
}

/** Every usable pg_dump/pg_restore pair in search order (configured folder, versioned folders, PATH), one per real file. */
export async function listPgBinaries(
  options: FindBinariesOptions = {},
): Promise<{ found: PgBinaries[]; searched: string[] }> {
  const folders: string[] = [];
  if (options.binDir) folders.push(options.binDir);
  for (const root of options.versionedRoots ?? defaultVersionedRoots()) {
    const versions = await readdir(root).catch(() => [] as string[]);
    versions.sort((a, b) => Number(b) - Number(a));
    for (const version of versions) folders.push(path.join(root, version, 'bin'));
  }
  for (const folder of (options.searchPath ?? process.env.PATH ?? '').split(path.delimiter))
    if (folder) folders.push(folder);

  const seen = new Set<string>();
  const found: PgBinaries[] = [];
  for (const folder of folders) {
    const pgDump = path.join(folder, 'pg_dump');
    const pgRestore = path.join(folder, 'pg_restore');
    if (!(await isExecutable(pgDump)) || !(await isExecutable(pgRestore))) continue;
    const real = await realpath(pgDump).catch(() => pgDump);
    // Debian's /usr/bin/pg_dump is a wrapper script shared by every version, so it is keyed by its
    // folder (/bin and /usr/bin are one folder on merged-/usr systems), not by its target.
    const key = real.endsWith('pg_wrapper') ? path.join(await realpath(folder).catch(() => folder), 'pg_dump') : real;
    if (seen.has(key)) continue;
    seen.add(key);
    const parsed = await readVersion(pgDump);
    if (parsed) found.push({ pgDump, pgRestore, ...parsed });
  }
  return { found, searched: folders };
}

/**
 * The loader path a pg_dump or pg_restore child keeps from our environment, which is otherwise not passed
 * on: the apt buildpack's `.profile.d` script points LD_LIBRARY_PATH at the libraries (a newer libpq)
 * it unpacked beside the clients, without which they may not start.
 */
export function loaderEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  return env.LD_LIBRARY_PATH ? { LD_LIBRARY_PATH: env.LD_LIBRARY_PATH } : {};
}

/** Parses `pg_dump (PostgreSQL) 15.18 (Debian 15.18-1.pgdg120+1)` or `pg_dump (PostgreSQL) 9.6.24`. */
export function parsePgDumpVersion(output: string): { version: string; major: number } | undefined {
  const match = /\(PostgreSQL\)\s+(\d+)(?:\.(\d+))?(?:\.(\d+))?/.exec(output);
  if (!match) return undefined;
  const first = Number(match[1]);
  const second = match[2] === undefined ? undefined : Number(match[2]);
  const version = [match[1], match[2], match[3]].filter((p) => p !== undefined).join('.');
  const major = first >= 10 || second === undefined ? first : first + second / 10;
  return { version, major };
}

async function readVersion(pgDump: string): Promise<{ version: string; major: number } | undefined> {
  try {
    const { stdout } = await execFileAsync(pgDump, ['--version'], {
      timeout: 10_000,
      env: { PATH: '/usr/local/bin:/usr/bin:/bin', LC_ALL: 'C', ...loaderEnv() },
    });
    return parsePgDumpVersion(stdout);
  } catch {
    return undefined;
  }
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
