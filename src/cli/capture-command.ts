import { captureArchive, directSource } from '../engine/index.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { CaptureArgs } from './args.ts';
import { assertKeyFree, captureSource, defaultKey } from './capture-inputs.ts';
import { reportFailure, type CliContext } from './context.ts';
import { EXIT } from './failure.ts';
import { dumpState, formatBytes } from './progress-bar.ts';
import { withReadProgress } from './read-progress.ts';
import { chooseMode, createReporter } from './reporter.ts';
import { capturedResult, locate, summarize, type ArchiveLocation } from './result.ts';

/** `big-backup capture`: the engine's dump → storage → verification, once, outside the queue. */
export async function runCapture(args: CaptureArgs, ctx: CliContext): Promise<number> {
  if (args.parallel > 1) return (await import('./sharded-capture-command.ts')).runShardedCapture(args, ctx);
  const reporter = createReporter(ctx.stderr, chooseMode(ctx.stderr, args));
  const secrets: string[] = [];
  let store: ObjectStore | null = null;
  let where: ArchiveLocation | null = null;
  // Set once we know the key was free: only then may a failure's cleanup delete it.
  let ownKey: string | null = null;
  try {
    const url = captureSource(args, ctx, secrets);
    // Loaded after the arguments are checked, so a mistake is reported before the AWS SDK loads.
    const { openObjectStore } = await import('../storage/open-object-store.ts');
    store = await openObjectStore(args.to, ctx.env);
    const opened = store;
    const startedAt = new Date();
    const pgBinDir = ctx.env.PG_BIN_DIR;
    const captured = await captureArchive({
      source: directSource(url),
      store: withReadProgress(opened, (state) => reporter.progress(state)),
      format: args.format,
      signal: ctx.signal,
      stallTimeoutMs: args.stallTimeoutSeconds * 1000,
      // The operator's own tool, run where they choose, with their own credentials: any host they can reach.
      hosts: { allowPrivate: true },
      ...(pgBinDir ? { pgBinDir } : {}),
      key: () => {
        if (where === null) throw new Error('the key is chosen when the dump is planned');
        return where.key;
      },
      onPlan: async (plan) => {
        const key = args.key ?? defaultKey(plan.connection.database, startedAt, plan.format.fileExtension);
        where = locate(opened, key);
        await assertKeyFree(opened, key, where);
        ownKey = key;
        const zstd = plan.format.wrapper === 'zstd' ? ', wrapped in zstd' : '';
        reporter.status(
          `backing up ${plan.source} (PostgreSQL ${plan.server.version.split(' ')[0]}, ${formatBytes(plan.server.databaseBytes)} on disk)`,
        );
        reporter.status(
          `pg_dump ${plan.binaries.version}, format ${plan.format.format} (compression ${plan.format.pgDumpCompression}${zstd}) to ${where.path ?? where.url}`,
        );
      },
      ...(args.verbose ? { onLog: (line: string) => reporter.status(line) } : {}),
      onProgress: (progress) => reporter.progress(dumpState(progress)),
      onStored: async (stored) => {
        reporter.clear();
        reporter.status(`stored ${formatBytes(stored.bytes)} (sha256 ${stored.sha256}); reading it back to verify`);
      },
    });
    const located = locate(opened, captured.key);
    const result = capturedResult(located, captured, startedAt);
    reporter.clear();
    reporter.status(`verified in ${String(result.durationSeconds)} s`);
    ctx.stdout.write(
      args.json
        ? JSON.stringify(result) + '\n'
        : summarize('Verified backup', result, [['source', captured.plan.source]]),
    );
    return EXIT.verified;
  } catch (error) {
    // The engine removes what it wrote on every failure path; this makes sure even when its own
    // cleanup was interrupted. The key was free before this run, so whatever is there is ours.
    if (store !== null && ownKey !== null) await store.delete(ownKey).catch(() => {});
    return reportFailure(ctx, reporter, error, {
      json: args.json,
      secrets,
      where,
      capture: true,
      interrupted: 'pg_dump was stopped and nothing was kept in storage',
    });
  } finally {
    await store?.close().catch(() => {});
  }
}

export { defaultKey } from './capture-inputs.ts';
