import { listPgBinaries } from '../../../src/engine/index.ts';

/** The pg_dump and pg_restore a fork is copied with. */
export interface CopyBinaries {
  pgDump: string;
  pgRestore: string;
}

/**
 * Finds a folder with both pg_dump and pg_restore, in the engine's search order: the configured one,
 * else the newest of Debian's versioned folders (a newer pg_dump reads any older server), else PATH.
 */
export async function findCopyBinaries(binDir?: string): Promise<CopyBinaries> {
  const { found, searched } = await listPgBinaries(binDir ? { binDir } : {});
  const first = found[0];
  if (first) return { pgDump: first.pgDump, pgRestore: first.pgRestore };
  throw new Error(
    `heroku simulator: no pg_dump/pg_restore found (searched ${searched.join(', ')}); set postgres.binDir`,
  );
}
