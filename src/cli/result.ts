import path from 'node:path';
import { restoreCommand, type DumpPlan, type VerifiedArchive } from '../engine/index.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Failure } from './failure.ts';

/** Where an archive is: its key, and the file path (file store) or the full s3:// URL. */
export interface ArchiveLocation {
  key: string;
  /** The store, as `s3://bucket/prefix` or `file:///folder`; never credentials. */
  storage: string;
  /** file:// stores: the archive's absolute path. */
  path?: string;
  /** s3:// stores: `s3://bucket/prefix/key`. */
  url?: string;
}

/** The fields every successful result names, for capture and verify alike. */
export interface ArchiveResult extends ArchiveLocation {
  verified: true;
  bytes: number;
  sha256: string;
  format: string;
  /** `zstd` when the stored bytes are a zstd stream around the archive (the `.dump.zst` files). */
  wrapper: 'none' | 'zstd';
  tables: number;
  tocEntries: number;
  /** Restores a downloaded copy into `$DATABASE_URL`; for s3:// stores, after `downloadCommand`. */
  restoreCommand: string;
  downloadCommand?: string;
}

/** Locates `key` in `store` as the user will look for it. */
export function locate(store: ObjectStore, key: string): ArchiveLocation {
  if (store.kind === 'file') {
    // FileObjectStore's location is `file://` + its absolute root folder, as is (not percent-encoded).
    const root = store.location.slice('file://'.length);
    return { key, storage: store.location, path: path.join(root, ...key.split('/')) };
  }
  return { key, storage: store.location, url: `${store.location}/${key}` };
}

/** The commands that restore the archive at `where`, right for its wrapper. */
export function restoreCommands(
  where: ArchiveLocation,
  wrapper: 'none' | 'zstd',
): Pick<ArchiveResult, 'restoreCommand' | 'downloadCommand'> {
  if (where.path !== undefined) return { restoreCommand: restoreCommand(wrapper, shellQuote(where.path)) };
  const file = path.posix.basename(where.key);
  return {
    restoreCommand: restoreCommand(wrapper, shellQuote(file)),
    ...(where.url === undefined ? {} : { downloadCommand: `aws s3 cp ${shellQuote(where.url)} ${shellQuote(file)}` }),
  };
}

/**
 * The result of a verified capture, single stream or sharded alike: where it is, what was proven, how
 * it was made, and how to restore it. `extra` (the sharded capture's mode and pieces) comes before the
 * timing fields.
 */
export function capturedResult(
  located: ArchiveLocation,
  captured: { verified: VerifiedArchive; plan: DumpPlan },
  startedAt: Date,
  extra: Record<string, unknown> = {},
): ArchiveResult & Record<string, unknown> {
  return {
    verified: true,
    ...located,
    bytes: captured.verified.bytes,
    sha256: captured.verified.sha256,
    format: captured.plan.format.format,
    wrapper: captured.plan.format.wrapper,
    compression: captured.plan.format.pgDumpCompression,
    minPgRestoreMajor: captured.plan.format.minPgRestoreMajor,
    tables: captured.verified.tableCount,
    tocEntries: captured.verified.tocEntries,
    source: captured.plan.source,
    serverVersion: captured.plan.server.version,
    pgDumpVersion: captured.plan.binaries.version,
    ...extra,
    startedAt: startedAt.toISOString(),
    durationSeconds: Math.round((Date.now() - startedAt.getTime()) / 100) / 10,
    ...restoreCommands(located, captured.plan.format.wrapper),
  };
}

/** The `--json` object of a failed run; names the key, not a path or URL where nothing may be. */
export function failureResult(failure: Failure, where: ArchiveLocation | null): Record<string, unknown> {
  return {
    verified: false,
    ...(where ? { key: where.key, storage: where.storage } : {}),
    error: { code: failure.code, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) },
  };
}

/** The human summary printed on stdout when `--json` is not given. */
export function summarize(title: string, result: ArchiveResult, extra: Array<[string, string]> = []): string {
  const rows: Array<[string, string]> = [
    [result.path !== undefined ? 'file' : 'object', result.path ?? result.url ?? result.key],
    ['key', result.key],
    ['bytes', String(result.bytes)],
    ['sha256', result.sha256],
    ['format', result.format + (result.wrapper === 'zstd' ? ' (zstd-wrapped archive)' : '')],
    ['tables', String(result.tables)],
    ...extra,
    ...(result.downloadCommand ? [['download', result.downloadCommand] as [string, string]] : []),
    ['restore', result.restoreCommand],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return `${title}\n${rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n')}\n`;
}

/** Quotes a word for a POSIX shell when it needs it. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./@%+=:,-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}
