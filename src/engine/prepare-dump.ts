import { canceled } from './dump-failures.ts';
import { describeFormat, type DumpFormat, type DumpFormatInfo } from './dump-command.ts';
import { selectPgBinaries, type FindBinariesOptions, type PgBinaries } from './pg-binaries.ts';
import { probeServer, type ServerInfo } from './server-info.ts';
import type { BackupSource, ConnectionParams } from './source.ts';
import { guardConnection } from './source-guard.ts';
import type { HostPolicy } from '../net/host-guard.ts';

/** Everything decided before pg_dump starts; safe to log (the password is a `Secret`). */
export interface DumpPlan {
  /** The source's description, without the password. */
  source: string;
  connection: ConnectionParams;
  server: ServerInfo;
  binaries: PgBinaries;
  format: DumpFormatInfo;
  /**
   * A compressed archive stays under 1.2 × (heap + TOAST + large objects) even for random bytea, which
   * COPY writes as hex (performance.md B3 note 4); storage sizes its upload parts from this.
   */
  archiveBytesUpperBound: number;
}

/** Options of `prepareDump`. */
export interface PrepareDumpOptions extends FindBinariesOptions {
  format?: DumpFormat;
  signal?: AbortSignal;
  /** `--lock-wait-timeout` in ms; default 2 minutes, null to wait forever for the initial table locks. */
  lockWaitTimeoutMs?: number | null;
  connectTimeoutMs?: number;
  /** Which hosts may be dumped; default public hosts only (the CLI and the tests allow private ones). */
  hosts?: HostPolicy;
}

const DEFAULT_LOCK_WAIT_MS = 120_000;

/**
 * Resolves the source, checks its host against the host policy, reads the server's version and size,
 * and picks a pg_dump at least as new as the server. Fails here, before any storage is touched, on a
 * refused host, a version mismatch or a bad connection.
 */
export async function prepareDump(source: BackupSource, options: PrepareDumpOptions = {}): Promise<DumpPlan> {
  const resolved = await source.resolve(options.signal);
  if (options.signal?.aborted) throw canceled();
  // Resolved and checked once here; the probe and pg_dump connect to these addresses only.
  const connection = await guardConnection(resolved.connection, options.hosts);
  const { description } = resolved;
  if (options.signal?.aborted) throw canceled();
  const server = await probeServer(connection, {
    signal: options.signal,
    ...(options.connectTimeoutMs ? { connectTimeoutMs: options.connectTimeoutMs } : {}),
  });
  const binaries = await selectPgBinaries(server.major, options);
  const lockWait = options.lockWaitTimeoutMs === null ? undefined : (options.lockWaitTimeoutMs ?? DEFAULT_LOCK_WAIT_MS);
  const format = describeFormat(options.format ?? 'default', binaries.major, server.hasHerokuExt, lockWait);
  const archiveBytesUpperBound = Math.max(1024 * 1024, Math.ceil(1.2 * (server.tableBytes + server.largeObjectBytes)));
  return { source: description, connection, server, binaries, format, archiveBytesUpperBound };
}
