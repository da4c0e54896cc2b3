import { verifyArchive, describeFormat, listPgBinaries, type DumpFormat, type PgBinaries } from '../engine/index.ts';
import { assertValidKey } from '../storage/keys.ts';
import type { ObjectManifest, ObjectStore } from '../storage/object-store.ts';
import { openObjectStore } from '../storage/open-object-store.ts';
import type { VerifyArgs } from './args.ts';
import { reportFailure, type CliContext } from './context.ts';
import { CliFailure, EXIT } from './failure.ts';
import { formatBytes } from './progress-bar.ts';
import { withReadProgress } from './read-progress.ts';
import { chooseMode, createReporter } from './reporter.ts';
import { locate, restoreCommands, summarize, type ArchiveLocation, type ArchiveResult } from './result.ts';

/** How a stored archive was made, as far as the store tells. */
interface StoredFormat {
  format: DumpFormat | 'unknown';
  wrapper: 'none' | 'zstd';
  pgDumpMajor: number | null;
  /** The oldest pg_restore that reads it; 0 when unknown. */
  minPgRestoreMajor: number;
}

/**
 * `big-backup verify`: re-checks an archive with nothing but the store. The size and SHA-256 come
 * from the manifest sealed when it was written; the format (and so whether the bytes are a zstd
 * stream around the archive) from the metadata the engine kept in it.
 */
export async function runVerify(args: VerifyArgs, ctx: CliContext): Promise<number> {
  const reporter = createReporter(ctx.stderr, chooseMode(ctx.stderr, args));
  let store: ObjectStore | null = null;
  let where: ArchiveLocation | null = null;
  try {
    assertValidKey(args.key);
    store = await openObjectStore(args.from, ctx.env);
    where = locate(store, args.key);
    const shown = where.path ?? where.url;
    const info = await store.head(args.key);
    if (!info)
      throw new CliFailure(
        'not_found',
        `there is no archive at ${shown}`,
        'check --from and --key against what "big-backup capture" printed',
      );
    if (!info.manifest) {
      throw new CliFailure(
        'not_sealed',
        `${shown} has no manifest, so its upload never completed or big-backup did not write it`,
        'only archives big-backup sealed can be verified; capture a new one',
      );
    }
    const stored = storedFormat(info.manifest);
    const pgRestore = await newestPgRestore(ctx.env.PG_BIN_DIR, stored);
    reporter.status(
      `verifying ${shown} (${formatBytes(info.manifest.bytes)}, format ${stored.format}) with pg_restore ${pgRestore.version}`,
    );
    const reading = withReadProgress(store, (state) => reporter.progress(state));
    const verified = await verifyArchive(
      reading,
      args.key,
      { bytes: info.manifest.bytes, sha256: info.manifest.sha256 },
      {
        pgRestore: pgRestore.pgRestore,
        wrapper: stored.wrapper,
        signal: ctx.signal,
      },
    );
    const result: ArchiveResult & Record<string, unknown> = {
      verified: true,
      ...where,
      bytes: verified.bytes,
      sha256: verified.sha256,
      format: stored.format,
      wrapper: stored.wrapper,
      ...(stored.pgDumpMajor === null ? {} : { pgDumpMajor: stored.pgDumpMajor }),
      tables: verified.tableCount,
      tocEntries: verified.tocEntries,
      sealedAt: info.manifest.sealedAt,
      pgRestoreVersion: pgRestore.version,
      ...restoreCommands(where, stored.wrapper),
    };
    reporter.clear();
    reporter.status('verified');
    ctx.stdout.write(
      args.json
        ? JSON.stringify(result) + '\n'
        : summarize('Verified archive', result, [['sealed', info.manifest.sealedAt]]),
    );
    return EXIT.verified;
  } catch (error) {
    return reportFailure(ctx, reporter, error, {
      json: args.json,
      secrets: [],
      where,
      capture: false,
      interrupted: 'verification was stopped',
    });
  } finally {
    await store?.close().catch(() => {});
  }
}

/** Reads the format from the manifest's metadata; the engine stores `format` and `pg-dump-major`. */
function storedFormat(manifest: ObjectManifest): StoredFormat {
  const format = manifest.metadata.format;
  const major = Number(manifest.metadata['pg-dump-major']);
  if ((format === 'default' || format === 'fast') && Number.isFinite(major) && major > 0) {
    // describeFormat holds the rule: `fast` is zstd inside the archive from pg_dump 16, a wrapper before.
    const info = describeFormat(format, major, false);
    return { format, wrapper: info.wrapper, pgDumpMajor: major, minPgRestoreMajor: info.minPgRestoreMajor };
  }
  throw new CliFailure(
    'unknown_format',
    `the manifest of ${manifest.key} does not say how the archive was made (no format metadata)`,
    'only archives written by big-backup capture or the add-on can be verified',
  );
}

/** The newest pg_restore here; refuses one too old to read the archive. */
async function newestPgRestore(binDir: string | undefined, stored: StoredFormat): Promise<PgBinaries> {
  const { found, searched } = await listPgBinaries(binDir ? { binDir } : {});
  const newest = [...found].sort((a, b) => b.major - a.major)[0];
  if (!newest) {
    throw new CliFailure(
      'pg_restore_missing',
      `no pg_restore was found in ${searched.join(', ') || 'no folder'}`,
      `install postgresql-client-${stored.minPgRestoreMajor || 'NN'} or set PG_BIN_DIR to a folder holding pg_restore`,
    );
  }
  if (newest.major < stored.minPgRestoreMajor) {
    throw new CliFailure(
      'version_mismatch',
      `the archive needs pg_restore ${stored.minPgRestoreMajor} or later, but the newest here is ${newest.version} (${newest.pgRestore})`,
      `install postgresql-client-${stored.minPgRestoreMajor} or set PG_BIN_DIR to a folder holding a newer pg_restore`,
    );
  }
  return newest;
}
