import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Transform, pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import { createGarbagePacer } from './garbage-pacer.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { canceled, dumpFailed, isDumpFailure, stalled, tooSlow } from './dump-failures.ts';
import { classifyExit } from './exit-status.ts';
import { createCoalescer, DEFAULT_COALESCE_BYTES } from './coalesce.ts';
import { buildDumpCommand, FAST_ZSTD_LEVEL, type DumpFormatInfo } from './dump-command.ts';
import { writePasswordFile } from './password-file.ts';
import type { DumpPlan } from './prepare-dump.ts';
import { ProgressEstimator, type DumpProgress } from './progress.ts';
import { redact } from '../shared/redact.ts';
import { createLineSplitter, parseVerboseLine } from './stderr-lines.ts';

/** Options of `runDump`. */
export interface RunDumpOptions {
  /** Aborting kills pg_dump's process group and rejects `done` with a `canceled` failure. */
  signal?: AbortSignal;
  /** The watchdog kills pg_dump when neither stdout nor stderr moved for this long; default 5 minutes. */
  stallTimeoutMs?: number;
  /**
   * Fails the dump as `too_slow` when, over a whole `windowMs` of the data phase, neither the archive
   * bytes nor the estimated database bytes moved at `bytesPerSecond`. Off when absent or 0.
   */
  minThroughput?: ThroughputFloor;
  /** Stops the dump with `failure()` as soon as the archive handed on passes `bytes`. */
  archiveLimit?: ArchiveLimit;
  /** Time between SIGTERM and SIGKILL; default 3 s. */
  killGraceMs?: number;
  /** How often `onProgress` is called; default 1 s. */
  progressIntervalMs?: number;
  /** Size of the buffers handed downstream; default 1 MiB. */
  coalesceBytes?: number;
  /** Each stderr line of pg_dump, redacted: the backup's log. */
  onLog?: (line: string) => void;
  onProgress?: (progress: DumpProgress) => void;
  /** Where the private password-file folder is made; default the OS temp folder. */
  tmpDir?: string;
  /** A pass-through stage that sees the archive as pg_dump wrote it (coalesced, before any zstd wrapper). */
  tap?: Transform;
  /** A pass-through stage that sees the stream as stored (after the zstd wrapper, if any). */
  wrappedTap?: Transform;
}

/** The slowest a dump may be, over a window, once it copies data. */
export interface ThroughputFloor {
  bytesPerSecond: number;
  windowMs: number;
}

/** The largest archive a run may hand on, and the failure that stops one that grows past it. */
export interface ArchiveLimit {
  bytes: number;
  failure: () => BackupFailure;
}

/** A running pg_dump. */
export interface DumpRun {
  readonly pid: number;
  /** The exact spawn arguments (no password in them). */
  readonly argv: readonly string[];
  readonly plan: DumpPlan;
  /**
   * The archive bytes (zstd-compressed for a wrapped `fast` format). It ends only after pg_dump exited 0;
   * on any failure it is destroyed with the failure instead, so an upload piping it aborts.
   */
  readonly stdout: Readable;
  /** Settles after pg_dump has exited and the stream is finished; rejects with a BackupFailure. */
  readonly done: Promise<DumpResult>;
  /** The current progress estimate. */
  progress(): DumpProgress;
  /** Stops pg_dump like aborting the signal does. */
  cancel(reason?: string): void;
}

/** What a successful run reports. */
export interface DumpResult {
  bytesOut: number;
  rawBytes: number;
  durationMs: number;
  tablesDumped: number;
  format: DumpFormatInfo;
  pgDumpVersion: string;
  serverVersion: string;
  progress: DumpProgress;
}

const DEFAULTS = { stallTimeoutMs: 5 * 60_000, killGraceMs: 3000, progressIntervalMs: 1000 };
const STDERR_TAIL = 20;

/**
 * Starts pg_dump for a prepared plan. The password goes through a 0600 PGPASSFILE that is removed when
 * the run settles, never through argv or the environment; pg_dump runs in its own process group so
 * cancellation also reaches anything it forks.
 */
export async function runDump(plan: DumpPlan, options: RunDumpOptions = {}): Promise<DumpRun> {
  if (options.signal?.aborted) throw canceled();
  const stallTimeoutMs = options.stallTimeoutMs ?? DEFAULTS.stallTimeoutMs;
  const killGraceMs = options.killGraceMs ?? DEFAULTS.killGraceMs;
  const progressIntervalMs = options.progressIntervalMs ?? DEFAULTS.progressIntervalMs;
  const secrets = [plan.connection.password.reveal()];
  const passwordFile = await writePasswordFile(plan.connection, options.tmpDir);
  const command = buildDumpCommand({
    connection: plan.connection,
    passwordFile: passwordFile.path,
    format: plan.format,
    serverMajor: plan.server.major,
  });

  let child: ChildProcess;
  try {
    child = spawn(plan.binaries.pgDump, command.argv, {
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: command.env,
    });
    if (child.pid === undefined) {
      const [error] = (await once(child, 'error')) as [Error];
      throw error;
    }
  } catch (error) {
    await passwordFile.remove();
    throw dumpFailed(`could not start ${plan.binaries.pgDump}: ${redact((error as Error).message, secrets)}`, {
      retryable: false,
      cause: error,
    });
  }
  const pid = child.pid;
  const stdoutPipe = child.stdout;
  const stderrPipe = child.stderr;
  if (!stdoutPipe || !stderrPipe) throw new Error('pg_dump was spawned without pipes');

  const startedAt = Date.now();
  const estimator = new ProgressEstimator(plan.server, plan.format.pgDumpCompression, { now: startedAt });
  let lastActivity = startedAt;
  let failure: BackupFailure | undefined;
  let settled = false;
  let childClosed = false;
  let childExited = false;
  let pipelineDone = false;
  let killTimer: NodeJS.Timeout | undefined;
  const stderrTail: string[] = [];
  // Tables (and batches of large objects) pg_dump announced: the throughput floor's third measure.
  let sectionsStarted = 0;

  let resolveExit: (error: BackupFailure | null) => void = () => {};
  const exitOutcome = new Promise<BackupFailure | null>((resolve) => {
    resolveExit = resolve;
  });
  let resolveDone: (result: DumpResult) => void = () => {};
  let rejectDone: (error: BackupFailure) => void = () => {};
  const done = new Promise<DumpResult>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  // A consumer that fails first may never await `done`; that must not crash the worker.
  done.catch(() => {});

  const killGroup = (signal: NodeJS.Signals) => {
    // Once pg_dump has exited it has been reaped, and its group id may already belong to someone else.
    if (childExited || childClosed) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // ESRCH: the group is already gone.
    }
  };
  let bytesOut = 0;
  const archiveLimit = options.archiveLimit;
  const gate = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      estimator.addOut(chunk.length);
      bytesOut += chunk.length;
      if (archiveLimit && bytesOut > archiveLimit.bytes) {
        // Not one byte past the limit goes on; fail() destroys this stream with the limit's failure.
        fail(archiveLimit.failure());
        callback();
        return;
      }
      callback(null, chunk);
    },
    // The consumer sees the end of the archive only once pg_dump's exit status says it is complete.
    flush(callback) {
      void exitOutcome.then((error) => callback(error ?? null));
    },
  });
  // Consumers get errors through their own listeners (pipeline) and through `done`.
  gate.on('error', () => {});

  const fail = (error: BackupFailure) => {
    if (failure || settled) return;
    failure = error;
    killGroup('SIGTERM');
    killTimer = setTimeout(() => killGroup('SIGKILL'), killGraceMs);
    gate.destroy(error);
  };
  const emit = (progress: DumpProgress) => {
    try {
      options.onProgress?.(progress);
    } catch {
      // A failing progress writer must not take the dump down with it.
    }
  };

  const splitter = createLineSplitter((rawLine) => {
    lastActivity = Date.now();
    const event = parseVerboseLine(rawLine);
    if (event) {
      estimator.startSection(event);
      sectionsStarted += 1;
    }
    const line = redact(rawLine, secrets);
    stderrTail.push(line);
    if (stderrTail.length > STDERR_TAIL) stderrTail.shift();
    try {
      options.onLog?.(line);
    } catch {
      // As for onProgress.
    }
  });
  stderrPipe.on('data', (chunk: Buffer) => splitter.push(chunk));
  stderrPipe.on('end', () => splitter.end());

  const pace = createGarbagePacer();
  const coalescer = createCoalescer(options.coalesceBytes ?? DEFAULT_COALESCE_BYTES, (bytes) => {
    pace(bytes);
    estimator.addRaw(bytes);
    lastActivity = Date.now();
  });
  const stages: Transform[] = [coalescer];
  if (options.tap) stages.push(options.tap);
  if (plan.format.wrapper === 'zstd') {
    stages.push(
      zlib.createZstdCompress({
        chunkSize: 256 * 1024,
        params: { [zlib.constants.ZSTD_c_compressionLevel]: FAST_ZSTD_LEVEL, [zlib.constants.ZSTD_c_checksumFlag]: 1 },
      }),
    );
  }
  if (options.wrappedTap) stages.push(options.wrappedTap);

  // Bytes waiting for the next stage, or pg_dump already gone, mean the consumer is what stopped.
  const blockedEnd = () => (childExited || coalescer.readableLength > 0 ? 'storage' : 'pg_dump');
  const floor = options.minThroughput?.bytesPerSecond ? options.minThroughput : undefined;
  const throughput = floor ? createThroughputWatch(floor) : undefined;
  let lastEmit = startedAt;
  const tick = setInterval(
    () => {
      const now = Date.now();
      if (now - lastActivity > stallTimeoutMs) {
        fail(stalled(stallTimeoutMs, estimator.currentTable, blockedEnd()));
      }
      if (now - lastEmit >= progressIntervalMs) {
        lastEmit = now;
        const progress = estimator.snapshot(now);
        emit(progress);
        // Judged from the first table on: before it, pg_dump reads the catalog and writes next to nothing.
        if (throughput && floor && progress.currentTable !== null && !childExited) {
          const rate = throughput.sample(now, progress.rawBytes, progress.sourceBytesDone, sectionsStarted);
          if (rate !== null && rate < floor.bytesPerSecond) fail(tooSlow(rate, floor, blockedEnd()));
        }
      }
    },
    Math.max(50, Math.min(progressIntervalMs, stallTimeoutMs / 4)),
  );

  const onAbort = () => fail(canceled());
  options.signal?.addEventListener('abort', onAbort, { once: true });
  if (options.signal?.aborted) onAbort();

  const maybeSettle = async () => {
    if (!childClosed || !pipelineDone || settled) return;
    settled = true;
    clearInterval(tick);
    clearTimeout(killTimer);
    options.signal?.removeEventListener('abort', onAbort);
    await passwordFile.remove().catch(() => {});
    if (failure) {
      emit(estimator.snapshot());
      rejectDone(failure);
      return;
    }
    estimator.finish();
    const progress = estimator.snapshot();
    emit(progress);
    resolveDone({
      bytesOut: progress.bytesOut,
      rawBytes: progress.rawBytes,
      durationMs: Date.now() - startedAt,
      tablesDumped: progress.tablesStarted,
      format: plan.format,
      pgDumpVersion: plan.binaries.version,
      serverVersion: plan.server.version,
      progress,
    });
  };

  child.once('exit', () => {
    childExited = true;
  });
  child.once('close', (code, signal) => {
    childClosed = true;
    if (!failure && code !== 0) {
      failure = classifyExit(code, signal, stderrTail);
      // Do not wait for a slow consumer to drain what is buffered: the archive is incomplete anyway.
      gate.destroy(failure);
    }
    resolveExit(failure ?? null);
    void maybeSettle();
  });
  pipeline([stdoutPipe, ...stages, gate], (error) => {
    pipelineDone = true;
    if (error && !failure) {
      const premature = error.code === 'ERR_STREAM_PREMATURE_CLOSE';
      fail(
        premature
          ? canceled('the archive stream was closed before pg_dump finished')
          : isDumpFailure(error)
            ? error
            : dumpFailed(`the archive stream failed: ${redact(error.message, secrets)}`, {
                retryable: true,
                cause: error,
              }),
      );
    }
    void maybeSettle();
  });

  return {
    pid,
    argv: command.argv,
    plan,
    stdout: gate,
    done,
    progress: () => estimator.snapshot(),
    cancel: (reason?: string) => fail(canceled(reason)),
  };
}

/** A dump that starts a new table at least this often, on average, is working through many small ones. */
const SECONDS_PER_SECTION = 10;

/**
 * Rates over a sliding window: `sample` returns the better of the archive-bytes and the estimated
 * database-bytes rate over the last `windowMs`, or null when there is no verdict: until a whole window
 * has been seen, and while pg_dump starts a table every SECONDS_PER_SECTION on average. Any of the
 * three is enough to pass: data that compresses very well writes few archive bytes, a table in flight
 * has no exact database-bytes estimate until it ends, and thousands of small tables (a schema per
 * customer) move few bytes of either between their COPY round trips.
 */
function createThroughputWatch(floor: ThroughputFloor) {
  const samples: Array<{ at: number; raw: number; source: number; sections: number }> = [];
  return {
    sample(at: number, raw: number, source: number, sections: number): number | null {
      samples.push({ at, raw, source, sections });
      // Keep the newest sample at least a window old as the baseline.
      while (samples.length > 2 && samples[1]!.at <= at - floor.windowMs) samples.shift();
      const base = samples[0]!;
      if (at - base.at < floor.windowMs) return null;
      const seconds = (at - base.at) / 1000;
      if (sections - base.sections >= seconds / SECONDS_PER_SECTION) return null;
      return Math.max(raw - base.raw, source - base.source) / seconds;
    },
  };
}
