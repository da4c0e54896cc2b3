import { randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream } from 'node:fs';
import { mkdir, open, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { finished, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from './byte-meter.ts';
import { asStorageFailure, describe, storageFailed, withCleanupError } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { MANIFEST_SUFFIX } from './keys.ts';
import { serializeManifest } from './manifest.ts';
import type { UploadOptions, UploadResult } from './object-store.ts';
import { abortedError, assertValidUploadOptions, untilAborted } from './validate.ts';

/**
 * Temporary names: hidden (keys never start with "."), unique per attempt, and recognisable by the
 * janitor: `.<name>.<uuid>.partial` beside the final file.
 */
export const TEMPORARY_NAME = /^\.(.+)\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.partial$/;

export function temporaryName(finalName: string): string {
  return `.${finalName}.${randomUUID()}.partial`;
}

/**
 * Writes `body` to `target` the crash-safe way: into a temporary file in the same folder, fsync,
 * check the size on disk against the bytes read, rename over the final name, fsync the folder;
 * then the manifest the same way. A crash at any point leaves either a temporary file (found by
 * `listIncompleteUploads`) or an unsealed file, never a sealed file with missing bytes.
 */
export async function uploadToFile(
  key: string,
  target: string,
  body: Readable,
  options: UploadOptions,
): Promise<UploadResult> {
  const { signal } = options;
  try {
    assertValidUploadOptions(options);
    if (signal?.aborted) throw abortedError(signal, `the upload of ${key}`);
  } catch (error) {
    body.destroy();
    throw error;
  }
  const dir = path.dirname(target);
  const temp = path.join(dir, temporaryName(path.basename(target)));
  const manifestTemp = path.join(dir, temporaryName(path.basename(target) + MANIFEST_SUFFIX));
  const internal = new AbortController();
  let failure: BackupFailure | undefined;
  // Read through a function: set by listeners during the awaits, which TypeScript's narrowing does not see.
  const throwIfFailed = (): void => {
    if (failure) throw failure;
  };
  let output: { bytesWritten: number } | undefined;
  const meter = new ByteMeter({
    chunkSize: rechunkSize(options.sizeEstimate),
    onBytes: (bytesRead) => options.onProgress?.({ bytesRead, bytesStored: output?.bytesWritten ?? 0 }),
  });
  const fail = (error: BackupFailure): void => {
    failure ??= error;
    // The body first, without an error: aborting the pipeline would destroy it with an AbortError,
    // which its producer would take for a failure of its own.
    if (!body.destroyed) body.destroy();
    if (!internal.signal.aborted) internal.abort(error);
  };
  const onAbort = (): void => fail(abortedError(signal!, `the upload of ${key}`));
  signal?.addEventListener('abort', onAbort, { once: true });
  // Attached before pipeline() so a failing body is reported as the source's fault, not the disk's.
  const stopWatchingBody = finished(body, { writable: false }, (error) => {
    if (error) fail(asStorageFailure(error, 'source_failed', 'the source stream failed'));
  });
  options.sourceDone?.then(undefined, (error: unknown) => {
    fail(storageFailed('source_failed', `the producer of the stream failed: ${describe(error)}`, { cause: error }));
  });

  let renamed = false;
  try {
    await mkdir(dir, { recursive: true });
    // A manifest left by an earlier upload to this key would describe other bytes: remove it first.
    await rm(target + MANIFEST_SUFFIX, { force: true });
    throwIfFailed();
    // `flush` fsyncs the file before closing it, and pipeline() waits for the close. Waiting for
    // the open first means the cleanup below can never run before the file exists.
    const out = createWriteStream(temp, { flags: 'wx', mode: 0o640, flush: true, highWaterMark: 1024 * 1024 });
    output = out;
    // Registered before pipeline() passes the disk's error on to the body: a full disk is storage's
    // failure, and the body is then destroyed without an error, so the producer reads it as a stop,
    // not as its own failure (as the S3 driver does).
    out.once('error', (error) => fail(asStorageFailure(error, 'store_failed', `writing ${key} failed`)));
    await once(out, 'ready');
    await pipeline(body, meter, out, { signal: internal.signal });
    throwIfFailed();
    if (!meter.complete) throw storageFailed('store_failed', `writing ${key} stopped before the stream ended`);
    const bytes = meter.bytesRead;
    const sha256 = meter.sha256;
    const onDisk = (await stat(temp)).size;
    if (onDisk !== bytes)
      throw storageFailed('size_mismatch', `the disk holds ${onDisk} bytes for ${key}, ${bytes} were read`);

    if (options.sourceDone !== undefined) await untilAborted(options.sourceDone, internal.signal);
    throwIfFailed();
    await rename(temp, target);
    renamed = true;
    await syncDirectory(dir);

    const manifest = serializeManifest({
      version: 1,
      key,
      bytes,
      sha256,
      sealedAt: new Date().toISOString(),
      metadata: options.metadata ?? {},
    });
    await writeFile(manifestTemp, manifest, { flag: 'wx', mode: 0o640, flush: true });
    await rename(manifestTemp, target + MANIFEST_SUFFIX);
    await syncDirectory(dir);
    throwIfFailed();
    return { key, bytes, sha256 };
  } catch (error) {
    const reason = failure ?? asStorageFailure(error, 'store_failed', `writing ${key} failed`);
    fail(reason);
    let cleanupError: unknown;
    const leftovers = renamed ? [temp, manifestTemp, target + MANIFEST_SUFFIX, target] : [temp, manifestTemp];
    for (const file of leftovers) {
      await rm(file, { force: true }).catch((e: unknown) => {
        cleanupError ??= e;
      });
    }
    throw cleanupError === undefined ? reason : withCleanupError(reason, cleanupError);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stopWatchingBody();
  }
}

/** fsync a folder, so a rename or unlink in it survives a crash. */
export async function syncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const KiB = 1024;

/**
 * The meter's chunk: 1 MiB, or for an upload expected to be small (the pieces of small tables, JSON
 * records) the estimate rounded up to 64 KiB, so each of hundreds of tiny uploads does not allocate a
 * MiB that the collector must then find.
 */
function rechunkSize(sizeEstimate: number | undefined): number {
  if (sizeEstimate === undefined) return 1024 * KiB;
  return Math.min(1024 * KiB, Math.max(64 * KiB, Math.ceil(sizeEstimate / (64 * KiB)) * 64 * KiB));
}
