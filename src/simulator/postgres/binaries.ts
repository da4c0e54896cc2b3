import { access, readdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';

/** The pg_dump and pg_restore a fork is copied with. */
export interface CopyBinaries {
  pgDump: string;
  pgRestore: string;
}

const VERSIONED_ROOT = '/usr/lib/postgresql';

/**
 * Finds a folder with both pg_dump and pg_restore: the configured one, else the newest of Debian's
 * versioned folders (a newer pg_dump reads any older server), else PATH.
 */
export async function findCopyBinaries(binDir?: string): Promise<CopyBinaries> {
  const folders: string[] = [];
  if (binDir) folders.push(binDir);
  const versions = await readdir(VERSIONED_ROOT).catch(() => [] as string[]);
  versions.sort((a, b) => Number(b) - Number(a));
  for (const version of versions) folders.push(path.join(VERSIONED_ROOT, version, 'bin'));
  for (const folder of (process.env.PATH ?? '').split(path.delimiter)) if (folder) folders.push(folder);
  for (const folder of folders) {
    const pgDump = path.join(folder, 'pg_dump');
    const pgRestore = path.join(folder, 'pg_restore');
    if ((await isExecutable(pgDump)) && (await isExecutable(pgRestore))) return { pgDump, pgRestore };
  }
  throw new Error(`heroku simulator: no pg_dump/pg_restore found (searched ${folders.join(', ')}); set postgres.binDir`);
}

async function isExecutable(file: string): Promise<boolean> {
  try {
    await access(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
