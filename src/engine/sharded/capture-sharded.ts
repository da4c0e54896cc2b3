import { setTimeout as sleep } from 'node:timers/promises';
import type { UploadResult, ObjectStore } from '../../storage/object-store.ts';
import { BackupFailure, isBackupFailure } from '../../shared/backup-failure.ts';
import type { HostPolicy } from '../../net/host-guard.ts';
import { captureArchive, type CaptureHooks } from '../capture-archive.ts';
import type { DumpFormat } from '../dump-command.ts';
import { canceled, dumpFailed } from '../dump-failures.ts';
import { prepareDump, type DumpPlan } from '../prepare-dump.ts';
import type { DumpResult } from '../run-dump.ts';
import type { BackupSource } from '../source.ts';
import type { VerifiedArchive } from '../verify-archive.ts';
import { assembleShardedArchive } from './assemble-archive.ts';
import { describePiece, dumpPiece } from './dump-piece.ts';
import { openPieceSession, type PieceSession } from './piece-session.ts';
import { planShardedCapture } from './plan-capture.ts';
import {
  deletePieces,
  loadPlan,
  pieceKeys,
  planDigest,
  reusablePieces,
  storePlan,
  storeRecord,
  type PieceKeys,
} from './piece-store.ts';
import type { CaptureMode, PieceResult, PlannedPiece, ShardPlan } from './types.ts';

/** Progress of a sharded capture, after each piece and about once a second. */
export interface ShardedProgress {
  piecesDone: number;
  piecesRunning: number;
  pieces: number;
  /** Estimated source bytes of the finished pieces, and of all. */
  estimatedBytesDone: number;
  estimatedBytes: number;
  /** Compressed bytes stored so far (finished pieces and those in flight). */
  bytes: number;
}

/** Options of `captureSharded`. */
export interface ShardedCaptureOptions {
  source: BackupSource;
  store: ObjectStore;
  /** The archive's key, from the dump plan (its extension depends on the format). */
  key: (dump: DumpPlan) => string;
  format: DumpFormat;
  /** How many pieces run at once; 1 runs them one after the other. */
  concurrency: number;
  splitSizeBytes: number;
  /** True when nothing writes to the source while it is dumped; otherwise the capture is one pg_dump stream. */
  static: boolean;
  /** Carry on from the plan and finished pieces stored beside the archive's key (needs the same key). */
  resume?: boolean;
  /**
   * Keep finished pieces (and the plan) in storage when canceled, so a later run can resume; by
   * default a canceled capture, like a failed one, leaves nothing.
   */
  keepPiecesOnCancel?: boolean;
  signal?: AbortSignal;
  hosts?: HostPolicy;
  pgBinDir?: string;
  metadata?: Record<string, string>;
  /** How often a failing piece is tried in all; default 3. */
  pieceAttempts?: number;
  /** For the single-stream fallback. */
  stallTimeoutMs?: number;
  /** The plan is made (or loaded), before any piece runs; throwing stops the capture. */
  onPlan?(plan: ShardPlan, dump: DumpPlan, key: string): Promise<void>;
  onPieceDone?(piece: PlannedPiece, result: PieceResult, reused: boolean): void;
  onShardedProgress?(progress: ShardedProgress): void;
  onLog?: (line: string) => void;
  /** Hooks of the single-stream fallback. */
  single?: Pick<CaptureHooks, 'onProgress' | 'onStored'>;
}

/** A stored and verified archive, and how it was captured. */
export interface ShardedCapture {
  key: string;
  plan: DumpPlan;
  shardPlan: ShardPlan;
  mode: CaptureMode;
  modeReason: string;
  /** The single stream's result; null when the capture was sharded. */
  dump: DumpResult | null;
  stored: UploadResult;
  verified: VerifiedArchive;
  /** Pieces in the plan (0 for a single stream) and how many were reused from an earlier run. */
  pieces: number;
  piecesReused: number;
}

const RETRY_DELAYS_MS = [1_000, 5_000, 15_000];
/** Tries one lane may have past their COPY, waiting for storage's proof and their record, before it waits. */
const FINISHING_PER_LANE = 4;

/**
 * The sharded capture in one process, for the one-shot command and the tests: plan (or, resuming,
 * load the plan stored beside the pieces), dump the pieces `concurrency` at a time, each one's record
 * written only after storage proved it, then assemble them into one archive, verify it and delete
 * the pieces. A plan that says `single` runs the ordinary single-stream capture. Any failure removes
 * every piece; only a cancel with `keepPiecesOnCancel` leaves the finished ones for a resume.
 */
export async function captureSharded(options: ShardedCaptureOptions): Promise<ShardedCapture> {
  const { store, signal } = options;
  let shardPlan: ShardPlan;
  let dump: DumpPlan;
  let key: string;
  let keys: PieceKeys;
  let reused = new Map<number, PieceResult>();
  if (options.resume) {
    dump = await prepareDump(options.source, {
      format: options.format,
      ...(signal ? { signal } : {}),
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(options.pgBinDir ? { binDir: options.pgBinDir } : {}),
    });
    key = options.key(dump);
    keys = pieceKeys(key);
    const stored = await loadPlan(store, keys);
    if (stored === null)
      throw resumeImpossible(`no plan of a sharded capture is stored beside ${key}; run without resuming`);
    if (stored.serverVersion !== dump.server.version)
      throw resumeImpossible(
        `the pieces beside ${key} were dumped from PostgreSQL ${stored.serverVersion}, the source now runs ${dump.server.version}`,
      );
    shardPlan = stored;
    reused = await reusablePieces(store, keys, shardPlan);
  } else {
    ({ plan: shardPlan, dump } = await planShardedCapture(options.source, {
      format: options.format,
      splitSizeBytes: options.splitSizeBytes,
      static: options.static,
      ...(signal ? { signal } : {}),
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(options.pgBinDir ? { pgBinDir: options.pgBinDir } : {}),
    }));
    key = options.key(dump);
    keys = pieceKeys(key);
  }
  await options.onPlan?.(shardPlan, dump, key);

  if (shardPlan.mode === 'single') {
    const captured = await captureArchive({
      source: options.source,
      store,
      key: () => key,
      format: options.format,
      ...(signal ? { signal } : {}),
      ...(options.hosts ? { hosts: options.hosts } : {}),
      ...(options.pgBinDir ? { pgBinDir: options.pgBinDir } : {}),
      ...(options.stallTimeoutMs ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.onLog ? { onLog: options.onLog } : {}),
      ...options.single,
      metadata: { ...options.metadata, mode: 'single' },
    });
    return {
      ...captured,
      shardPlan,
      mode: 'single',
      modeReason: shardPlan.modeReason,
      pieces: 0,
      piecesReused: 0,
    };
  }

  if (!options.resume) {
    const leftovers = await store.list(keys.prefix);
    if (leftovers.length > 0)
      throw resumeImpossible(`pieces of an earlier capture are stored beside ${key}; resume it, or remove them`);
  }
  let keepPieces = false;
  try {
    if (!options.resume) await storePlan(store, keys, shardPlan, signal);
    for (const [no, result] of reused) options.onPieceDone?.(pieceOf(shardPlan, no), result, true);
    const results = await runPieces(options, shardPlan, dump, keys, reused);
    const { stored, verified } = await assembleShardedArchive({
      store,
      plan: shardPlan,
      pieces: [...results.values()],
      key,
      pgRestore: dump.binaries.pgRestore,
      ...(signal ? { signal } : {}),
      metadata: {
        format: dump.format.format,
        'pg-dump-major': String(dump.binaries.major),
        ...options.metadata,
        mode: 'sharded',
        pieces: String(shardPlan.pieces.length),
      },
    });
    await deletePieces(store, keys).catch((error: unknown) =>
      options.onLog?.(`the pieces could not all be removed: ${(error as Error).message}`),
    );
    return {
      key,
      plan: dump,
      shardPlan,
      mode: 'sharded',
      modeReason: shardPlan.modeReason,
      dump: null,
      stored,
      verified,
      pieces: shardPlan.pieces.length,
      piecesReused: reused.size,
    };
  } catch (error) {
    keepPieces = Boolean(options.keepPiecesOnCancel && signal?.aborted);
    if (!keepPieces) await deletePieces(store, keys).catch(() => {});
    throw error;
  }
}

function pieceOf(plan: ShardPlan, no: number): PlannedPiece {
  const piece = plan.pieces.find((p) => p.no === no);
  if (!piece) throw new Error(`piece ${no} is not in the plan`);
  return piece;
}

function resumeImpossible(message: string): BackupFailure {
  return new BackupFailure('dump_failed', message, { retryable: false });
}

/**
 * Runs every piece not already done in `concurrency` lanes, each taking the next piece in the plan's
 * order (largest first) once its last piece's COPY is over (storage's proof and the record follow
 * beside, at most FINISHING_PER_LANE per lane). A failed try puts the piece back at the front of the
 * queue after its delay, up to `pieceAttempts` tries while its failure is retryable; the first piece
 * that fails for good stops the others and fails the run, naming it.
 */
async function runPieces(
  options: ShardedCaptureOptions,
  plan: ShardPlan,
  dump: DumpPlan,
  keys: PieceKeys,
  done: Map<number, PieceResult>,
): Promise<Map<number, PieceResult>> {
  const results = new Map(done);
  const queue = plan.pieces.filter((p) => !results.has(p.no));
  const digest = planDigest(plan);
  const stop = new AbortController();
  const onAbort = () => stop.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();
  const estimatedBytes = plan.pieces.reduce((sum, p) => sum + p.estimatedBytes, 0);
  const inFlight = new Map<number, number>();
  let storedBytes = [...results.values()].reduce((sum, r) => sum + r.bytes, 0);
  const report = () =>
    options.onShardedProgress?.({
      piecesDone: results.size,
      piecesRunning: inFlight.size,
      pieces: plan.pieces.length,
      estimatedBytesDone: plan.pieces.filter((p) => results.has(p.no)).reduce((sum, p) => sum + p.estimatedBytes, 0),
      estimatedBytes,
      bytes: storedBytes + [...inFlight.values()].reduce((sum, b) => sum + b, 0),
    });
  const ticker = setInterval(report, 1000);
  // The first failure for good; an object, so that TypeScript does not narrow it to its initial null.
  const outcome: { failure: Error | null } = { failure: null };
  const attempts = options.pieceAttempts ?? 3;

  const tries = new Map<number, number>();

  /**
   * After a failed try of a piece: throws the failure for good, naming the piece, when it may not be
   * tried again; otherwise logs it and waits before the next try.
   */
  const afterFailure = async (piece: PlannedPiece, error: unknown): Promise<void> => {
    if (stop.signal.aborted) throw error;
    const attempt = tries.get(piece.no) ?? 1;
    const retryable = isBackupFailure(error) && error.retryable;
    const delay = RETRY_DELAYS_MS[attempt - 1] ?? RETRY_DELAYS_MS.at(-1)!;
    const message = isBackupFailure(error) ? error.message : (error as Error).message;
    if (!retryable || attempt >= attempts)
      throw dumpFailed(
        `${describePiece(piece)} failed after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${message}`,
        { retryable: isBackupFailure(error) ? error.retryable : false, cause: error },
      );
    options.onLog?.(`${describePiece(piece)} failed (${message}); trying again in ${delay / 1000} s`);
    await sleep(delay, undefined, { signal: stop.signal }).catch(() => {});
  };

  /**
   * One try of a piece on the lane's session (piece-session.ts; opened again after a piece failed on
   * it). Resolves as soon as the piece no longer needs the session, its COPY being over, with the
   * rest of the try: storage proving the piece, then its record (what a resume trusts, so written
   * only after that proof), after which the piece counts as done. The lane goes on meanwhile: on
   * small tables, sealing the object and the record took longer than dumping the rows.
   */
  const start = async (
    piece: PlannedPiece,
    lane: { session: PieceSession | null },
  ): Promise<{ finished: Promise<void> }> => {
    tries.set(piece.no, (tries.get(piece.no) ?? 0) + 1);
    inFlight.set(piece.no, 0);
    let released = (): void => {};
    const sourceReleased = new Promise<void>((resolve) => (released = resolve));
    const finished = (async () => {
      if (lane.session?.closed) lane.session = null;
      lane.session ??= await openPieceSession({
        source: options.source,
        plan,
        signal: stop.signal,
        ...(options.hosts ? { hosts: options.hosts } : {}),
      });
      const result = await dumpPiece({
        session: lane.session,
        source: options.source,
        plan,
        piece,
        store: options.store,
        key: keys.piece(piece.no),
        signal: stop.signal,
        ...(options.hosts ? { hosts: options.hosts } : {}),
        onProgress: (p) => inFlight.set(piece.no, p.bytes),
        onSourceReleased: released,
        metadata: { archive: keys.archive, ...options.metadata },
      });
      try {
        await storeRecord(options.store, keys, digest, result, stop.signal);
      } catch (error) {
        if (stop.signal.aborted) throw error;
        throw dumpFailed(`the record of ${describePiece(piece)} could not be stored: ${(error as Error).message}`, {
          retryable: true,
          cause: error,
        });
      }
      // Stopped meanwhile: nothing counts any more (and everything is about to be removed).
      if (stop.signal.aborted) throw canceled();
      storedBytes += result.bytes;
      results.set(piece.no, result);
      options.onPieceDone?.(piece, result, false);
    })().finally(() => inFlight.delete(piece.no));
    await Promise.race([sourceReleased, finished]);
    // In an object: an async function's result that is a promise would be waited for.
    return { finished };
  };

  const fail = (error: unknown) => {
    outcome.failure ??= error instanceof Error ? error : new Error(String(error));
    stop.abort(error);
  };
  // A failed try: the piece goes back to the front of the queue after its delay, or the run fails.
  const retry = async (piece: PlannedPiece, error: unknown): Promise<void> => {
    try {
      await afterFailure(piece, error);
      queue.unshift(piece);
    } catch (failure) {
      fail(failure);
    }
  };

  const worker = async () => {
    const lane: { session: PieceSession | null } = { session: null };
    // Tries of this lane past their COPY, still being proven; a lane ends only once they have.
    const finishing = new Set<Promise<void>>();
    try {
      while (outcome.failure === null && !stop.signal.aborted) {
        if (finishing.size >= FINISHING_PER_LANE) {
          await Promise.race(finishing);
          continue;
        }
        const piece = queue.shift();
        if (!piece) {
          if (finishing.size === 0) break;
          // One of them may fail and come back to the queue.
          await Promise.race(finishing);
          continue;
        }
        try {
          const { finished } = await start(piece, lane);
          const settled = finished.catch((error: unknown) => retry(piece, error));
          finishing.add(settled);
          void settled.finally(() => finishing.delete(settled));
        } catch (error) {
          await retry(piece, error);
        }
      }
      await Promise.allSettled(finishing);
    } finally {
      await lane.session?.close();
    }
  };
  try {
    const concurrency = Math.max(1, Math.floor(options.concurrency));
    await Promise.all(Array.from({ length: Math.min(concurrency, Math.max(1, queue.length)) }, worker));
  } finally {
    clearInterval(ticker);
    options.signal?.removeEventListener('abort', onAbort);
  }
  if (options.signal?.aborted) throw canceled();
  if (outcome.failure !== null) throw outcome.failure;
  report();
  return results;
}
