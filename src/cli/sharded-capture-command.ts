import { captureSharded, directSource, pieceKeys } from '../engine/index.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { CaptureArgs } from './args.ts';
import { assertKeyFree, captureSource, defaultKey } from './capture-inputs.ts';
import { reportFailure, type CliContext } from './context.ts';
import { CliFailure, EXIT } from './failure.ts';
import { dumpState, formatBytes } from './progress-bar.ts';
import { withReadProgress } from './read-progress.ts';
import { chooseMode, createReporter } from './reporter.ts';
import { capturedResult, locate, summarize, type ArchiveLocation } from './result.ts';

/**
 * `big-backup capture --parallel N` (N > 1): the sharded capture in this one process. The user
 * declares the source static (a fork, a restored copy): its tables are dumped in pieces, N at a time,
 * joined into one ordinary archive and verified. With `--key`, an interrupted run keeps its finished
 * pieces and `--resume` carries on from them.
 */
export async function runShardedCapture(args: CaptureArgs, ctx: CliContext): Promise<number> {
  const reporter = createReporter(ctx.stderr, chooseMode(ctx.stderr, args));
  const secrets: string[] = [];
  let store: ObjectStore | null = null;
  let where: ArchiveLocation | null = null;
  let ownKey: string | null = null;
  try {
    const url = captureSource(args, ctx, secrets);
    const { openObjectStore } = await import('../storage/open-object-store.ts');
    store = await openObjectStore(args.to, ctx.env);
    const opened = store;
    if (args.key !== null && !args.resume && (await opened.list(pieceKeys(args.key).prefix)).length > 0) {
      throw new CliFailure(
        'exists',
        `pieces of an earlier capture are stored beside ${args.key}`,
        'run the same command with --resume to carry on from them, or choose another --key',
      );
    }
    const startedAt = new Date();
    const pgBinDir = ctx.env.PG_BIN_DIR;
    let done = 0;
    let total = 0;
    const captured = await captureSharded({
      source: directSource(url),
      store: withReadProgress(opened, (state) => reporter.progress(state)),
      format: args.format,
      concurrency: args.parallel,
      splitSizeBytes: args.splitSizeBytes,
      static: true,
      resume: args.resume,
      // A user-chosen key can be resumed, so an interrupted run keeps what it finished.
      keepPiecesOnCancel: args.key !== null,
      signal: ctx.signal,
      stallTimeoutMs: args.stallTimeoutSeconds * 1000,
      hosts: { allowPrivate: true },
      ...(pgBinDir ? { pgBinDir } : {}),
      key: (dump) => args.key ?? defaultKey(dump.connection.database, startedAt, dump.format.fileExtension),
      onPlan: async (plan, dump, key) => {
        where = locate(opened, key);
        await assertKeyFree(opened, key, where);
        ownKey = key;
        total = plan.pieces.length;
        reporter.status(
          `backing up ${dump.source} (PostgreSQL ${dump.server.version.split(' ')[0]}, ${formatBytes(dump.server.databaseBytes)} on disk) to ${where.path ?? where.url}`,
        );
        reporter.status(`mode ${plan.mode}: ${plan.modeReason}`);
        if (plan.mode === 'sharded')
          reporter.status(
            `pg_dump ${dump.binaries.version}'s table of contents, ${total} pieces, ${args.parallel} at a time${args.resume ? ' (resuming)' : ''}`,
          );
      },
      onPieceDone: (piece, result, reused) => {
        done += 1;
        if (!args.verbose && !reused) return;
        const name = piece.kind === 'large_objects' ? 'large objects' : `${piece.schema}.${piece.table}`;
        const part = piece.parts > 1 ? ` part ${piece.part + 1}/${piece.parts}` : '';
        reporter.status(
          `${reused ? 'reused' : 'dumped'} piece ${piece.no} (${name}${part}): ${formatBytes(result.bytes)}, ${done}/${total}`,
        );
      },
      onShardedProgress: (p) =>
        reporter.progress({
          verb: 'dumped',
          bytes: p.bytes,
          bytesPerSecond: p.bytes / Math.max(1, (Date.now() - startedAt.getTime()) / 1000),
          fraction: p.estimatedBytes > 0 ? p.estimatedBytesDone / p.estimatedBytes : null,
          etaSeconds: null,
          table: `${p.piecesDone}/${p.pieces} pieces`,
        }),
      ...(args.verbose ? { onLog: (line: string) => reporter.status(line) } : {}),
      single: {
        onProgress: (progress) => reporter.progress(dumpState(progress)),
        onStored: async (stored) => {
          reporter.clear();
          reporter.status(`stored ${formatBytes(stored.bytes)} (sha256 ${stored.sha256}); reading it back to verify`);
        },
      },
    });
    const located = locate(opened, captured.key);
    const result = capturedResult(located, captured, startedAt, {
      mode: captured.mode,
      modeReason: captured.modeReason,
      pieces: captured.pieces,
      piecesReused: captured.piecesReused,
    });
    reporter.clear();
    reporter.status(`verified in ${String(result.durationSeconds)} s`);
    ctx.stdout.write(
      args.json
        ? JSON.stringify(result) + '\n'
        : summarize('Verified backup', result, [
            ['source', captured.plan.source],
            ['mode', `${captured.mode} (${captured.modeReason})`],
            ['pieces', `${captured.pieces} (${captured.piecesReused} reused)`],
          ]),
    );
    return EXIT.verified;
  } catch (error) {
    // The archive's key was free before this run, so whatever is there is ours (the pieces are the engine's).
    if (store !== null && ownKey !== null) await store.delete(ownKey).catch(() => {});
    const kept = args.key !== null && ctx.signal.aborted;
    return reportFailure(ctx, reporter, error, {
      json: args.json,
      secrets,
      where,
      capture: true,
      interrupted: kept
        ? 'the pieces in flight were stopped; the finished ones are kept in storage: run the same command with --resume to carry on'
        : 'the pieces were stopped and nothing was kept in storage',
    });
  } finally {
    await store?.close().catch(() => {});
  }
}
