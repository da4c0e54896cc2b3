import type pg from 'pg';
import type { HostPolicy } from '../net/host-guard.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { compareFingerprints, type DrillComparison } from './compare-fingerprints.ts';
import { fingerprintDatabase } from './database-fingerprint.ts';
import { restoreArchive, type RestoredArchive } from './restore-archive.ts';
import { connectSource } from './source-client.ts';
import { guardConnection } from './source-guard.ts';
import type { ConnectionParams } from './source.ts';

export interface RestoreDrillOptions {
  store: Pick<ObjectStore, 'read'>;
  key: string;
  bytes: number;
  /** The database the archive was dumped from, unchanged since (the fork). */
  reference: ConnectionParams;
  /** An empty database to restore into, which the drill may wipe. */
  target: ConnectionParams;
  pgRestore: string;
  jobs: number;
  spool?: { dir?: string; maxBytes: number };
  hosts?: HostPolicy;
  signal?: AbortSignal;
  /** Runs on the restored database before the comparison: the test hook that alters a restored table. */
  beforeCompare?: (restored: pg.Client) => Promise<void>;
}

export interface RestoreDrillResult extends DrillComparison {
  restore: RestoredArchive;
  passed: boolean;
}

/**
 * A restore drill's engine part: restore the stored archive into the empty target with stock
 * pg_restore, then compare target and reference table by table (row counts and content checksums),
 * sequence by sequence, and by their lists of schemas, tables, indexes, constraints, views and
 * functions. It passes when pg_restore exited 0 and nothing differs. Creating and destroying the two
 * databases is the caller's.
 */
export async function runRestoreDrill(options: RestoreDrillOptions): Promise<RestoreDrillResult> {
  const reference = await guardConnection(options.reference, options.hosts);
  const target = await guardConnection(options.target, options.hosts);
  const restore = await restoreArchive({
    store: options.store,
    key: options.key,
    bytes: options.bytes,
    target,
    pgRestore: options.pgRestore,
    jobs: options.jobs,
    ...(options.spool ? { spool: options.spool } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  const clientOptions = { timeoutMs: 10_000, applicationName: 'big-backup-drill' };
  const [left, right] = [await connectSource(reference, clientOptions), await connectSource(target, clientOptions)];
  try {
    if (options.beforeCompare) await options.beforeCompare(right);
    const signal = options.signal ? { signal: options.signal } : {};
    const [want, got] = await Promise.all([fingerprintDatabase(left, signal), fingerprintDatabase(right, signal)]);
    const comparison = compareFingerprints(want, got);
    return { ...comparison, restore, passed: restore.exitCode === 0 && comparison.differences.length === 0 };
  } finally {
    await Promise.all([left.end().catch(() => {}), right.end().catch(() => {})]);
  }
}
