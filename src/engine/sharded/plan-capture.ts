import { canceled, dumpFailed } from '../dump-failures.ts';
import type { DumpFormat } from '../dump-command.ts';
import { prepareDump, type DumpPlan } from '../prepare-dump.ts';
import { runDump } from '../run-dump.ts';
import type { BackupSource } from '../source.ts';
import { connectSource } from '../source-client.ts';
import type { HostPolicy } from '../../net/host-guard.ts';
import { redact } from '../../shared/redact.ts';
import {
  ArchiveHeadReader,
  archiveCompression,
  archiveEncoding,
  dataEntries,
  type ArchiveHead,
  type DataEntry,
} from './archive-head.ts';
import type { PlannedPiece, ShardPlan } from './types.ts';

/** Options of `planShardedCapture`. */
export interface PlanShardedOptions {
  format: DumpFormat;
  /** Tables whose main fork is larger than this are cut into ctid ranges of about this size (PostgreSQL 14+). */
  splitSizeBytes: number;
  /** True when nothing can write to the source while it is dumped (a fork, or a source declared static). */
  static: boolean;
  signal?: AbortSignal;
  hosts?: HostPolicy;
  pgBinDir?: string;
}

/** TID range scans (cheap `ctid >= … and ctid < …`) exist since PostgreSQL 14. */
const TID_RANGE_SCAN_SINCE = 14;

/**
 * Plans a sharded capture: `prepareDump` (the same checks, host guard and choice of pg_dump as a single
 * stream), then pg_dump with exactly the format's flags on a pipe, read until the end of its table of
 * contents and stopped there, and the data cut into pieces: one per TABLE DATA entry, large tables into
 * ctid ranges, every large object in one piece. When the backup cannot be sharded the plan says
 * `single` and why, and the caller runs one pg_dump stream instead.
 */
export async function planShardedCapture(
  source: BackupSource,
  options: PlanShardedOptions,
): Promise<{ plan: ShardPlan; dump: DumpPlan }> {
  if (!(options.splitSizeBytes > 0)) throw new RangeError('splitSizeBytes must be positive');
  const dump = await prepareDump(source, {
    format: options.format,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.hosts ? { hosts: options.hosts } : {}),
    ...(options.pgBinDir ? { binDir: options.pgBinDir } : {}),
  });
  const base = {
    serverVersion: dump.server.version,
    serverMajor: dump.server.major,
    pgDumpVersion: dump.binaries.version,
    databaseBytes: dump.server.databaseBytes,
    splitSizeBytes: options.splitSizeBytes,
    compressionLevel: Number(dump.format.pgDumpCompression) || 0,
  };
  const single = (modeReason: string, head?: HeadBytes, encoding = ''): { plan: ShardPlan; dump: DumpPlan } => ({
    plan: {
      mode: 'single',
      modeReason,
      headBase64: head ? head.bytes.toString('base64') : '',
      archiveVersion: head ? head.head.header.version : '',
      encoding,
      ...base,
      pieces: [],
    },
    dump,
  });
  if (!options.static)
    return single('the source may change while it is dumped, so it must be one snapshot taken by one pg_dump');
  if (options.format !== 'default')
    return single(`the ${options.format} format's compression cannot be joined from pieces yet`);

  const head = await readHeadFromPgDump(dump, options.signal);
  const encoding = archiveEncoding(head.head);
  const version = head.head.header.version;
  const compression = archiveCompression(head.head);
  if (compression.algorithm !== 'gzip')
    return single(`the archive's compression (${compression.algorithm}) cannot be joined from pieces`, head, encoding);
  const data = dataEntries(head.head);
  const blobs = data.filter((e) => e.kind === 'large_objects');
  if (head.head.header.versionMinor >= 16 && blobs.length > 0)
    return single(
      `large objects in an archive of version ${version} come in several groups, which pieces do not dump yet`,
      head,
      encoding,
    );
  if (blobs.length > 1)
    return single(`the archive has ${blobs.length} large-object entries, which pieces do not dump yet`, head, encoding);

  const pieces = await cutIntoPieces(dump, data, options);
  const tables = new Set(pieces.filter((p) => p.kind === 'table').map((p) => p.dumpId)).size;
  const split = new Set(pieces.filter((p) => p.parts > 1).map((p) => p.dumpId)).size;
  const splitNote =
    split > 0
      ? `, ${split} split into ctid ranges`
      : dump.server.major < TID_RANGE_SCAN_SINCE
        ? `, none split (PostgreSQL ${dump.server.major} has no TID range scans)`
        : '';
  const lo = pieces.some((p) => p.kind === 'large_objects') ? ', large objects in one piece' : '';
  return {
    plan: {
      mode: 'sharded',
      modeReason: `the source cannot change while it is dumped; ${pieces.length} pieces (${tables} tables${splitNote}${lo})`,
      headBase64: head.bytes.toString('base64'),
      archiveVersion: version,
      encoding,
      ...base,
      // -1 is zlib's default level; 1.15+ archives do not record the level, which our flags chose.
      compressionLevel: compression.level === -1 ? 6 : (compression.level ?? base.compressionLevel),
      pieces,
    },
    dump,
  };
}

/**
 * Runs pg_dump with the plan's flags, reads its output up to the end of the table of contents, then
 * stops it (its whole process group) and waits until it has exited.
 */
async function readHeadFromPgDump(dump: DumpPlan, signal?: AbortSignal): Promise<HeadBytes> {
  const run = await runDump(dump, { ...(signal ? { signal } : {}) });
  const reader = new ArchiveHeadReader();
  let head: ArchiveHead | null = null;
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of run.stdout) {
      chunks.push(chunk as Buffer);
      head = reader.push(chunk as Buffer);
      if (head) break;
    }
  } catch (error) {
    // pg_dump's own failure (its exit status, a cancel) is in `done`.
    const failure = await run.done.then(
      () => error,
      (e: unknown) => e,
    );
    throw failure;
  } finally {
    run.cancel('the table of contents was read');
    // Settles only after pg_dump has exited (or was killed): nothing of it outlives the plan.
    await run.done.catch(() => {});
  }
  if (signal?.aborted) throw canceled();
  if (!head) throw dumpFailed('pg_dump ended before the end of its table of contents', { retryable: true });
  return { head, bytes: Buffer.concat(chunks).subarray(0, head.bytes) };
}

/** The parsed head and its exact bytes. */
interface HeadBytes {
  head: ArchiveHead;
  bytes: Buffer;
}

interface RelationSize {
  relationBytes: number;
  tableBytes: number;
}

/** One piece per TABLE DATA entry (large ones cut into ctid ranges), one for the large objects; largest first. */
async function cutIntoPieces(dump: DumpPlan, data: DataEntry[], options: PlanShardedOptions): Promise<PlannedPiece[]> {
  const { sizes, blockSize, largeObjectBytes } = await readSizes(
    dump,
    data.filter((e) => e.kind === 'table').map((e) => e.oid),
    options.signal,
  );
  const pieces: PlannedPiece[] = [];
  for (const entry of data) {
    if (entry.kind === 'large_objects') {
      pieces.push({
        no: pieces.length,
        dumpId: entry.dumpId,
        kind: 'large_objects',
        schema: null,
        table: null,
        blocks: null,
        part: 0,
        parts: 1,
        copyStatement: null,
        estimatedBytes: largeObjectBytes,
      });
      continue;
    }
    if (!entry.copyStmt)
      throw dumpFailed(`TABLE DATA entry ${entry.dumpId} has no COPY statement`, { retryable: false });
    const size = sizes.get(entry.oid) ?? { relationBytes: 0, tableBytes: 0 };
    const blocks = Math.ceil(size.relationBytes / blockSize);
    const splittable = dump.server.major >= TID_RANGE_SCAN_SINCE && size.relationBytes > options.splitSizeBytes;
    const parts = splittable ? Math.min(blocks, Math.ceil(size.relationBytes / options.splitSizeBytes)) : 1;
    const perPart = Math.ceil(blocks / parts);
    for (let part = 0; part < parts; part++) {
      pieces.push({
        no: pieces.length,
        dumpId: entry.dumpId,
        kind: 'table',
        schema: entry.namespace,
        table: entry.tag,
        // The first range is open at the start and the last at the end: nothing outside them is missed.
        blocks:
          parts === 1
            ? null
            : {
                fromBlock: part === 0 ? null : part * perPart,
                toBlock: part === parts - 1 ? null : (part + 1) * perPart,
              },
        part,
        parts,
        copyStatement: entry.copyStmt,
        estimatedBytes: Math.round(size.tableBytes / parts),
      });
    }
  }
  // Run the largest first, so the last piece to finish is a small one; `no` keeps the archive order.
  return [...pieces].sort((a, b) => b.estimatedBytes - a.estimatedBytes || a.no - b.no);
}

async function readSizes(
  dump: DumpPlan,
  oids: number[],
  signal?: AbortSignal,
): Promise<{ sizes: Map<number, RelationSize>; blockSize: number; largeObjectBytes: number }> {
  if (signal?.aborted) throw canceled();
  const client = await connectSource(dump.connection, {
    timeoutMs: 10_000,
    statementTimeoutMs: 120_000,
    applicationName: 'big-backup plan',
  });
  try {
    const rows = await client.query<{ oid: string; relation_bytes: string; table_bytes: string }>(
      `select c.oid::int8::text as oid, pg_relation_size(c.oid)::text as relation_bytes, pg_table_size(c.oid)::text as table_bytes
       from pg_class c where c.oid = any($1::oid[])`,
      [oids],
    );
    const settings = await client.query<{ block_size: string; lo_bytes: string }>(
      `select current_setting('block_size') as block_size, pg_table_size('pg_catalog.pg_largeobject')::text as lo_bytes`,
    );
    const sizes = new Map<number, RelationSize>();
    for (const row of rows.rows)
      sizes.set(Number(row.oid), { relationBytes: Number(row.relation_bytes), tableBytes: Number(row.table_bytes) });
    return {
      sizes,
      blockSize: Number(settings.rows[0]!.block_size),
      largeObjectBytes: Number(settings.rows[0]!.lo_bytes),
    };
  } catch (error) {
    throw dumpFailed(
      `could not read the tables' sizes: ${redact((error as Error).message, [dump.connection.password.reveal()])}`,
      { retryable: true, cause: error },
    );
  } finally {
    await client.end().catch(() => {});
  }
}
