import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { finished } from 'node:stream/promises';
import { freeBuffer } from '../shared/free-buffer.ts';
import { checkSegments } from './compose-plan.ts';
import { asStorageFailure, storageFailed, withCleanupError } from './errors.ts';
import { syncDirectory, temporaryName } from './file-upload.ts';
import { MANIFEST_SUFFIX } from './keys.ts';
import { serializeManifest } from './manifest.ts';
import type { ComposeOptions, ComposeResult, ComposeSegment, SealOptions, UploadResult } from './object-store.ts';
import { abortedError, assertValidUploadOptions } from './validate.ts';

/**
 * The file driver's compose: the segments concatenated into a temporary file beside the target
 * (ranges streamed from their files), fsynced, its size checked, renamed into place; unsealed.
 */
export async function composeToFile(
  key: string,
  target: string,
  segments: readonly ComposeSegment[],
  pathOf: (key: string) => string,
  options: ComposeOptions = {},
): Promise<ComposeResult> {
  const { signal } = options;
  assertValidUploadOptions(options);
  if (signal?.aborted) throw abortedError(signal, `composing ${key}`);
  const bytes = await checkSegments(key, segments, async (source) => {
    const stats = await stat(pathOf(source)).catch(() => null);
    return stats?.isFile() ? stats.size : null;
  });
  const dir = path.dirname(target);
  const temp = path.join(dir, temporaryName(path.basename(target)));
  let renamed = false;
  try {
    await mkdir(dir, { recursive: true });
    // A manifest left by an earlier object at this key would describe other bytes.
    await rm(target + MANIFEST_SUFFIX, { force: true });
    const out = createWriteStream(temp, { flags: 'wx', mode: 0o640, flush: true, highWaterMark: 1024 * 1024 });
    await once(out, 'ready');
    await writeSegments(segments, pathOf, out, signal, key);
    const onDisk = (await stat(temp)).size;
    if (onDisk !== bytes)
      throw storageFailed('size_mismatch', `the disk holds ${onDisk} bytes for ${key}, ${bytes} were composed`);
    await rename(temp, target);
    renamed = true;
    await syncDirectory(dir);
    return { key, bytes };
  } catch (error) {
    const reason =
      signal?.aborted === true
        ? abortedError(signal, `composing ${key}`)
        : asStorageFailure(error, 'store_failed', `composing ${key} failed`);
    let cleanupError: unknown;
    for (const file of renamed ? [temp, target] : [temp]) {
      await rm(file, { force: true }).catch((e: unknown) => {
        cleanupError ??= e;
      });
    }
    throw cleanupError === undefined ? reason : withCleanupError(reason, cleanupError);
  }
}

/** The file driver's seal: the size on disk must be `expected.bytes`; then the manifest, as upload writes it. */
export async function sealFile(key: string, target: string, expected: SealOptions): Promise<UploadResult> {
  assertValidSeal(expected);
  const stats = await stat(target).catch(() => null);
  if (stats === null || !stats.isFile()) throw storageFailed('not_found', `${key} is not in the store`);
  if (stats.size !== expected.bytes)
    throw storageFailed(
      'size_mismatch',
      `the disk holds ${stats.size} bytes for ${key}, ${expected.bytes} were expected`,
    );
  const dir = path.dirname(target);
  const manifestTemp = path.join(dir, temporaryName(path.basename(target) + MANIFEST_SUFFIX));
  const manifest = serializeManifest({
    version: 1,
    key,
    bytes: expected.bytes,
    sha256: expected.sha256,
    sealedAt: new Date().toISOString(),
    metadata: expected.metadata ?? {},
  });
  try {
    await writeFile(manifestTemp, manifest, { flag: 'wx', mode: 0o640, flush: true });
    await rename(manifestTemp, target + MANIFEST_SUFFIX);
    await syncDirectory(dir);
  } catch (error) {
    await rm(manifestTemp, { force: true }).catch(() => {});
    throw asStorageFailure(error, 'store_failed', `sealing ${key} failed`);
  }
  return { key, bytes: expected.bytes, sha256: expected.sha256 };
}

export function assertValidSeal(expected: SealOptions): void {
  if (!Number.isSafeInteger(expected.bytes) || expected.bytes < 0)
    throw storageFailed('invalid_config', `bytes must be a non-negative integer, not ${expected.bytes}`);
  if (!/^[0-9a-f]{64}$/.test(expected.sha256))
    throw storageFailed('invalid_config', 'sha256 must be 64 lower-case hex digits');
  assertValidUploadOptions({ ...(expected.metadata ? { metadata: expected.metadata } : {}) });
}

/**
 * Writes the segments into `out` and ends it (its `flush` fsyncs before it closes). Each range is read
 * in 1 MiB buffers, each freed as soon as it is written: a whole archive read that way would
 * otherwise pile up as garbage until V8's next full collection, some 64 MiB later.
 */
async function writeSegments(
  segments: readonly ComposeSegment[],
  pathOf: (key: string) => string,
  out: WriteStream,
  signal: AbortSignal | undefined,
  key: string,
): Promise<void> {
  let failure: Error | null = null;
  const onError = (error: Error) => (failure ??= error);
  out.on('error', onError);
  const check = () => {
    if (signal?.aborted) throw abortedError(signal, `composing ${key}`);
    if (failure) throw failure;
  };
  const write = async (chunk: Buffer, own: boolean) => {
    check();
    const more = out.write(chunk, (error) => {
      if (!error && own) freeBuffer(chunk);
    });
    if (!more) await drainedOrClosed(out);
  };
  try {
    for (const segment of segments) {
      if (Buffer.isBuffer(segment)) {
        if (segment.length > 0) await write(segment, false);
        continue;
      }
      const source = createReadStream(pathOf(segment.key), {
        start: segment.start,
        end: segment.end,
        highWaterMark: 1024 * 1024,
        ...(signal ? { signal } : {}),
      });
      for await (const chunk of source) await write(chunk as Buffer, true);
    }
    check();
    out.end();
    await finished(out);
    check();
  } catch (error) {
    out.destroy();
    throw error;
  } finally {
    out.off('error', onError);
  }
}

/** Resolves at the stream's next 'drain' or its 'close' (after an error), leaving no listener behind. */
function drainedOrClosed(out: WriteStream): Promise<void> {
  return new Promise((resolve) => {
    if (out.destroyed) return resolve();
    const done = () => {
      out.off('drain', done);
      out.off('close', done);
      resolve();
    };
    out.on('drain', done);
    out.on('close', done);
  });
}
