import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  type HeadObjectCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { finished, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ByteMeter } from './byte-meter.ts';
import { asStorageFailure, describe, storageFailed, withCleanupError } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { MANIFEST_SUFFIX } from './keys.ts';
import { serializeManifest, type ObjectManifest } from './manifest.ts';
import type { UploadOptions, UploadResult } from './object-store.ts';
import { formatBytes, planParts, S3_MIN_PART_SIZE, type PartPlan } from './part-plan.ts';
import { encryptionProblem, isS3NotFound, sseParams } from './s3-client.ts';
import { MultipartWriter, type Send } from './s3-multipart.ts';
import type { S3Settings } from './storage-url.ts';
import { abortedError, assertValidUploadOptions, untilAborted } from './validate.ts';

export interface S3Target {
  client: S3Client;
  settings: S3Settings;
}

/**
 * Streams `body` to `storageKey` through a MultipartWriter (s3-multipart.ts: a fixed pool of part
 * buffers) and proves the result before sealing it:
 *
 * 1. The part size comes from the size estimate (part-plan.ts); a stream that outgrows the plan
 *    is stopped by the ByteMeter before part `maxParts + 1` could be asked for.
 * 2. The first failure of any kind (a part failing beyond the SDK's retries, the body failing,
 *    `sourceDone` rejecting, the caller's signal, SSE not confirmed) stops everything at once:
 *    in-flight parts are cancelled and the body destroyed.
 * 3. Once no request is in flight, the multipart upload is aborted by id and the key and its
 *    manifest deleted, and only then does it reject.
 * 4. After CompleteMultipartUpload, HeadObject must show exactly the bytes we read (a "200 with
 *    error" or a lost object must never pass), and the encryption we asked for.
 * 5. The manifest with our SHA-256 is written last (manifest.ts).
 */
/** Parts in flight of a lean upload (UploadOptions.lean). */
const LEAN_QUEUE_SIZE = 2;

export async function uploadToS3(
  target: S3Target,
  key: string,
  storageKey: string,
  body: Readable,
  options: UploadOptions,
): Promise<UploadResult> {
  const { client, settings } = target;
  const bucket = settings.bucket;
  const send = client.send.bind(client) as Send;
  const { signal } = options;
  let plan: PartPlan;
  try {
    assertValidUploadOptions(options);
    plan = planParts(options.sizeEstimate, {
      maxParts: settings.maxParts,
      partSizeFloor: options.lean ? S3_MIN_PART_SIZE : settings.partSizeFloor,
    });
    if (signal?.aborted) throw abortedError(signal, `the upload of ${key}`);
  } catch (error) {
    body.destroy();
    throw error;
  }

  const internal = new AbortController();
  let failure: BackupFailure | undefined;
  // Read through a function: set by listeners during the awaits, which TypeScript's narrowing does not see.
  const throwIfFailed = (): void => {
    if (failure) throw failure;
  };
  let bytesStored = 0;
  const writer = new MultipartWriter({
    send,
    bucket,
    key: storageKey,
    params: {
      ContentType: options.contentType ?? 'application/octet-stream',
      ...(options.metadata === undefined ? {} : { Metadata: options.metadata }),
      ...sseParams(settings.sse),
    },
    partSize: plan.partSize,
    ...(options.sizeEstimate === undefined ? {} : { firstBufferBytes: firstBuffer(options.sizeEstimate) }),
    queueSize: options.lean ? Math.min(LEAN_QUEUE_SIZE, settings.queueSize) : settings.queueSize,
    partChecksums: settings.requestChecksumCalculation === 'WHEN_SUPPORTED',
    signal: internal.signal,
    encryptionProblem: (output) => encryptionProblem(settings.sse, output),
    onStored: (stored) => {
      bytesStored = stored;
    },
  });
  const meter = new ByteMeter({
    // The writer copies into its own part buffers: re-chunking here would only be another copy.
    chunkSize: 0,
    maxBytes: plan.maxBytes,
    limitReason:
      `, the most ${plan.maxParts} parts of ${formatBytes(plan.partSize)} can hold` +
      ` (planned for an estimate of ${formatBytes(options.sizeEstimate ?? 0)}); stopped before part ${plan.maxParts + 1}`,
    onBytes: (bytesRead) => options.onProgress?.({ bytesRead, bytesStored }),
  });
  const fail = (error: BackupFailure): void => {
    failure ??= error;
    if (!internal.signal.aborted) internal.abort(error);
    if (!meter.destroyed) meter.destroy(error);
    if (!body.destroyed) body.destroy();
    if (!writer.destroyed) writer.destroy(error);
  };
  const onAbort = (): void => fail(abortedError(signal!, `the upload of ${key}`));
  signal?.addEventListener('abort', onAbort, { once: true });
  const stopWatchingBody = finished(body, { writable: false }, (error) => {
    if (error) fail(asStorageFailure(error, 'source_failed', 'the source stream failed'));
  });
  meter.on('error', (error) => fail(asStorageFailure(error, 'source_failed', 'the source stream failed')));
  options.sourceDone?.then(undefined, (error: unknown) => {
    fail(storageFailed('source_failed', `the producer of the stream failed: ${describe(error)}`, { cause: error }));
  });

  writer.on('error', (error) => fail(asStorageFailure(error, 'store_failed', `the upload of ${key} failed`)));

  try {
    // A manifest left by an earlier upload to this key would describe other bytes: remove it first.
    await send(new DeleteObjectCommand({ Bucket: bucket, Key: storageKey + MANIFEST_SUFFIX }));
    throwIfFailed();
    body.pipe(meter);
    await pipeline(meter, writer);
    throwIfFailed();
    if (!meter.complete) throw storageFailed('store_failed', `the upload of ${key} completed before the stream ended`);
    const bytes = meter.bytesRead;
    const sha256 = meter.sha256;

    const head = await headOrNull(send, bucket, storageKey);
    if (head === null) {
      throw storageFailed('missing_after_complete', `the store reported ${key} complete, but it is not there`);
    }
    if (head.ContentLength !== bytes) {
      throw storageFailed(
        'size_mismatch',
        `the store holds ${head.ContentLength ?? 'an unknown number of'} bytes for ${key}, ${bytes} were sent`,
      );
    }
    const headProblem = encryptionProblem(settings.sse, head);
    if (headProblem !== null) throw storageFailed('encryption_not_honoured', `${key}: ${headProblem}`);

    if (options.sourceDone !== undefined) await untilAborted(options.sourceDone, internal.signal);
    throwIfFailed();

    const manifest: ObjectManifest = {
      version: 1,
      key,
      bytes,
      sha256,
      sealedAt: new Date().toISOString(),
      metadata: options.metadata ?? {},
      partSize: plan.partSize,
      ...(head.ETag === undefined ? {} : { etag: head.ETag }),
    };
    const sealed = await send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: storageKey + MANIFEST_SUFFIX,
        Body: serializeManifest(manifest),
        ContentType: 'application/json',
        ...sseParams(settings.sse),
      }),
      { abortSignal: internal.signal },
    );
    const manifestProblem = encryptionProblem(settings.sse, sealed);
    if (manifestProblem !== null) throw storageFailed('encryption_not_honoured', `${key} manifest: ${manifestProblem}`);
    throwIfFailed();
    return { key, bytes, sha256 };
  } catch (error) {
    const reason = failure ?? asStorageFailure(error, 'store_failed', `the upload of ${key} failed`);
    fail(reason);
    // Abort only once no part can still land (the internal signal cancelled them all).
    await writer.settled();
    const cleanupError = await removeEverything(send, bucket, storageKey, writer.uploadId);
    throw cleanupError === undefined ? reason : withCleanupError(reason, cleanupError);
  } finally {
    signal?.removeEventListener('abort', onAbort);
    stopWatchingBody();
  }
}

export async function headOrNull(send: Send, bucket: string, key: string): Promise<HeadObjectCommandOutput | null> {
  try {
    return (await send(new HeadObjectCommand({ Bucket: bucket, Key: key }))) as unknown as HeadObjectCommandOutput;
  } catch (error) {
    if (isS3NotFound(error)) return null;
    throw error;
  }
}

/** Aborts the multipart upload (if any) and deletes the manifest and the object; returns the first error. */
export async function removeEverything(
  send: Send,
  bucket: string,
  key: string,
  uploadId: string | undefined,
): Promise<unknown> {
  const errors: unknown[] = [];
  if (uploadId !== undefined) {
    await send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId })).catch(
      (error: unknown) => {
        if (!isS3NotFound(error)) errors.push(error);
      },
    );
  }
  for (const target of [key + MANIFEST_SUFFIX, key]) {
    await send(new DeleteObjectCommand({ Bucket: bucket, Key: target })).catch((error: unknown) => {
      errors.push(error);
    });
  }
  return errors[0];
}

/**
 * The first buffer of an upload of about `sizeEstimate` bytes: that much rounded up to 64 KiB (the
 * writer moves to part-sized buffers if it was too little); records and the pieces of small tables
 * would otherwise each hold a whole part buffer until stored.
 */
function firstBuffer(sizeEstimate: number): number {
  const step = 64 * 1024;
  return Math.max(step, Math.ceil(sizeEstimate / step) * step);
}
