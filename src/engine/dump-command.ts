import type { ConnectionParams } from './source.ts';
import { loaderEnv } from './pg-binaries.ts';

/** `default`: a stock custom-format archive any pg_restore reads. `fast`: zstd, by pg_dump ≥ 16 itself or by us around `-Z0`. */
export type DumpFormat = 'default' | 'fast';

/** How an archive was made and how to restore it; stored with the backup (no secrets in it). */
export interface DumpFormatInfo {
  format: DumpFormat;
  /** The value passed to pg_dump's `--compress`: `2` (gzip level 2), `0`, or `zstd:2`. */
  pgDumpCompression: string;
  /** `zstd` when we compress pg_dump's output ourselves; the stored bytes are then a .zst of an archive. */
  wrapper: 'none' | 'zstd';
  /** The oldest pg_restore that reads the archive. */
  minPgRestoreMajor: number;
  fileExtension: '.dump' | '.dump.zst';
  /** pg_dump's flags other than the connection ones. */
  flags: string[];
  /** A shell command restoring a downloaded copy into `$DATABASE_URL`. */
  restoreCommand: string;
}

/** Everything needed to spawn pg_dump. */
export interface DumpCommand {
  /** Spawn arguments; hold host, port, user and database but never the password. */
  argv: string[];
  /** The whole child environment: nothing is inherited from our process. */
  env: Record<string, string>;
  format: DumpFormatInfo;
}

/** Inputs of `buildDumpCommand`. */
export interface DumpCommandInput {
  connection: ConnectionParams;
  passwordFile: string;
  format: DumpFormatInfo;
  serverMajor: number;
}

// gzip level 2: performance.md B3 measured level 1 at 2.09x the speed of pg_dump's default level 6 for
// +8 % size, but on the benchmark's data level 1 wrote 1.11x the default's size and level 2 1.09x for
// 10 % more time (2.58 s against 2.34 s for 257 MB), within the 1.10x size target; any pg_restore reads
// it. zstd (in pg_dump since 16, or wrapped around -Z0 by us) is faster still and smaller.
const DEFAULT_COMPRESSION = '2';
/** zstd level of the fast format: level 2 wrote 0.91x of pg_dump's default size against 0.98x at level 1, for 10 % more CPU. */
export const FAST_ZSTD_LEVEL = 2;
const ZSTD_IN_PG_DUMP_SINCE = 16;

/** The PGBackups-compatible pg_dump invocation for one run: the format's flags, then the connection. */
export function buildDumpCommand(input: DumpCommandInput): DumpCommand {
  const { connection, format } = input;
  // With checked addresses, libpq connects to those (PGHOSTADDR) and uses the host name, repeated once
  // per address, only for TLS and the password file: no second DNS lookup can lead elsewhere.
  const addresses = connection.addresses ?? [];
  const host = addresses.length > 1 ? addresses.map(() => connection.host).join(',') : connection.host;
  const argv = [...format.flags, `--host=${host}`, `--port=${connection.port}`, `--username=${connection.user}`];
  const env: Record<string, string> = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    // English messages: the --verbose lines are parsed for the current table.
    LC_ALL: 'C',
    PGPASSFILE: input.passwordFile,
    PGAPPNAME: 'big-backup',
    PGCONNECT_TIMEOUT: '10',
    ...loaderEnv(),
  };
  // libpq expands a dbname holding "=" or a URI prefix into a connection string; PGDATABASE is never expanded.
  if (/=|^postgres(ql)?:\/\//i.test(connection.database)) env.PGDATABASE = connection.database;
  else argv.push(`--dbname=${connection.database}`);
  if (addresses.length > 0) env.PGHOSTADDR = addresses.join(',');
  if (connection.sslmode) env.PGSSLMODE = connection.sslmode;
  // Lets the backend notice a killed pg_dump even while it waits on a lock (server setting since 14).
  if (input.serverMajor >= 14) env.PGOPTIONS = '-c client_connection_check_interval=10000';
  return { argv, env, format };
}

/** The flags and restore instructions of a format, given the pg_dump that will run. */
export function describeFormat(
  format: DumpFormat,
  pgDumpMajor: number,
  excludeHerokuExt: boolean,
  lockWaitTimeoutMs?: number,
): DumpFormatInfo {
  const builtinZstd = format === 'fast' && pgDumpMajor >= ZSTD_IN_PG_DUMP_SINCE;
  const wrapper = format === 'fast' && !builtinZstd ? 'zstd' : 'none';
  const pgDumpCompression = format === 'default' ? DEFAULT_COMPRESSION : builtinZstd ? `zstd:${FAST_ZSTD_LEVEL}` : '0';
  const flags = [
    '-Fc',
    `--compress=${pgDumpCompression}`,
    '--no-acl',
    '--no-owner',
    '--quote-all-identifiers',
    '--verbose',
    '-w',
  ];
  if (lockWaitTimeoutMs !== undefined) flags.push(`--lock-wait-timeout=${Math.max(1, Math.round(lockWaitTimeoutMs))}`);
  if (excludeHerokuExt) flags.push('--exclude-schema=heroku_ext');
  const minPgRestoreMajor = Math.max(Math.floor(pgDumpMajor), builtinZstd ? ZSTD_IN_PG_DUMP_SINCE : 0);
  const fileExtension = wrapper === 'zstd' ? '.dump.zst' : '.dump';
  return {
    format,
    pgDumpCompression,
    wrapper,
    minPgRestoreMajor,
    fileExtension,
    flags,
    restoreCommand: restoreCommand(wrapper, `backup${fileExtension}`),
  };
}

/** A restore command for a downloaded file; zstd-wrapped archives are decompressed on the fly. */
export function restoreCommand(wrapper: 'none' | 'zstd', file: string): string {
  const restore = 'pg_restore --verbose --clean --if-exists --no-acl --no-owner -d "$DATABASE_URL"';
  return wrapper === 'zstd' ? `zstd -dc ${file} | ${restore}` : `${restore} ${file}`;
}
