import { setTimeout as sleep } from 'node:timers/promises';
import type { ObjectStore, UploadResult } from '../storage/object-store.ts';
import { isDumpFailure } from './dump-failures.ts';
import type { DumpFormat } from './dump-command.ts';
import { prepareDump, type DumpPlan } from './prepare-dump.ts';
import type { DumpProgress } from './progress.ts';
import { runDump, type DumpResult } from './run-dump.ts';
import type { BackupSource } from './source.ts';
import { verifyArchive, type VerifiedArchive } from './verify-archive.ts';
import { isReadBackFailure } from './verification-failures.ts';
import { startArchiveInspector } from './archive-inspector.ts';
import type { DumpInspection } from './dump-inspection.ts';
import { startZstdCheck } from './wrapper-check.ts';
import type { HostPolicy } from '../net/host-guard.ts';

/** Hooks through which the caller (the job, or the one-shot command) records each step. */
export interface CaptureHooks {
  /** The dump is planned (versions checked, binaries chosen); throwing stops before pg_dump starts. */
  onPlan?(plan: DumpPlan): Promise<void>;
  onLog?: (line: string) => void;
  onProgress?: (progress: DumpProgress) => void;
  /** Every byte is stored and proven (size and digest); throwing stops before verification. */
  onStored?(stored: UploadResult, dump: DumpResult): Promise<void>;
}

export interface CaptureOptions extends CaptureHooks {
  source: BackupSource;
  store: ObjectStore;
  /** Called with the plan to name the object (its extension depends on the format chosen). */
  key: (plan: DumpPlan) => string;
  format: DumpFormat;
  signal?: AbortSignal;
  stallTimeoutMs?: number;
  pgBinDir?: string;
  metadata?: Record<string, string>;
  /** Which hosts may be dumped; default public hosts only. */
  hosts?: HostPolicy;
}

/** A captured, stored and verified archive. */
export interface CapturedArchive {
  key: string;
  plan: DumpPlan;
  dump: DumpResult;
  stored: UploadResult;
  verified: VerifiedArchive;
}

/**
 * The engine: plan the dump (refusing at once when no pg_dump fits the server), stream pg_dump's
 * output into storage while hashing and counting it and while pg_restore reads it through, and only
 * when pg_dump exited 0, the read-through passed (and a zstd wrapper decoded to the same archive) and
 * storage proved every byte, read the stored archive back to verify it holds exactly those bytes. Any failure rejects after storage has removed what
 * it wrote; a failed verification removes the object too, so a bad archive is never offered.
 */
export async function captureArchive(options: CaptureOptions): Promise<CapturedArchive> {
  const plan = await prepareDump(options.source, {
    format: options.format,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.pgBinDir ? { binDir: options.pgBinDir } : {}),
    ...(options.hosts ? { hosts: options.hosts } : {}),
  });
  await options.onPlan?.(plan);
  const key = options.key(plan);
  // pg_restore reads the archive through while it is written, beside the upload (archive-inspector.ts).
  const inspector = startArchiveInspector(plan.binaries.pgRestore);
  // A zstd wrapper is decoded beside the dump too (wrapper-check.ts), from the bytes about to be stored.
  const wrapperCheck = plan.format.wrapper === 'zstd' ? startZstdCheck() : null;
  let run;
  try {
    run = await runDump(plan, {
      tap: inspector.tap,
      ...(wrapperCheck ? { wrappedTap: wrapperCheck.tap } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(options.stallTimeoutMs ? { stallTimeoutMs: options.stallTimeoutMs } : {}),
      ...(options.onLog ? { onLog: options.onLog } : {}),
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  } catch (error) {
    inspector.kill();
    throw error;
  }
  let stored: UploadResult;
  try {
    stored = await options.store.upload(key, run.stdout, {
      sizeEstimate: plan.archiveBytesUpperBound,
      sourceDone: run.done,
      ...(options.signal ? { signal: options.signal } : {}),
      metadata: { format: plan.format.format, 'pg-dump-major': String(plan.binaries.major), ...options.metadata },
    });
  } catch (error) {
    inspector.kill();
    // pg_dump's own failure (exit code, stall) explains more than storage's "the source failed". But
    // when pg_dump was only stopped because the upload failed (or by the same cancel), its error says
    // "canceled" and is not retryable, so the storage error, which knows whether a retry can help, stands.
    run.cancel('the upload failed');
    const dumpError = await run.done.then(
      () => null,
      (e: unknown) => e,
    );
    throw isDumpFailure(dumpError) && dumpError.kind !== 'canceled' ? dumpError : error;
  }
  const dump = await run.done;
  try {
    const readThrough: DumpInspection = await inspector.result();
    if (wrapperCheck) readThrough.wrapperDecodedBytes = await wrapperCheck.result();
    await options.onStored?.(stored, dump);
    const verified = await verifyWithRetries(
      () =>
        verifyArchive(options.store, key, stored, {
          pgRestore: plan.binaries.pgRestore,
          wrapper: plan.format.wrapper,
          readThrough,
          ...(options.signal ? { signal: options.signal } : {}),
        }),
      options.signal,
      options.onLog,
    );
    return { key, plan, dump, stored, verified };
  } catch (error) {
    inspector.kill();
    await options.store.delete(key).catch(() => {});
    throw error;
  }
}

/** Pauses before reading the object back again after a failed read (the store's client has retried each request already). */
const READ_BACK_RETRY_DELAYS_MS = [2_000, 10_000];

/**
 * Verifies, reading the object again when the read itself failed (a dropped connection, a store
 * briefly answering 5xx): that says nothing about the archive, and failing here would delete a stored
 * archive and dump the whole database again. A mismatch or an unreadable archive fails at once.
 */
async function verifyWithRetries(
  verify: () => Promise<VerifiedArchive>,
  signal?: AbortSignal,
  log?: (line: string) => void,
): Promise<VerifiedArchive> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await verify();
    } catch (error) {
      const delay = READ_BACK_RETRY_DELAYS_MS[attempt];
      if (!isReadBackFailure(error) || delay === undefined || signal?.aborted) throw error;
      log?.(`${error.message}; reading it again in ${delay / 1000} s`);
      await sleep(delay, undefined, signal ? { signal } : {}).catch(() => {
        throw error;
      });
    }
  }
}
