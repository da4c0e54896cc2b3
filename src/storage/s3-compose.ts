import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { Readable } from 'node:stream';
import {
  checkSegments,
  planCompose,
  S3_MIN_PART_BYTES,
  size,
  type ComposePart,
  type SourceRange,
} from './compose-plan.ts';
import { asStorageFailure, storageFailed, withCleanupError } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { MANIFEST_SUFFIX } from './keys.ts';
import { serializeManifest, type ObjectManifest } from './manifest.ts';
import type { ComposeOptions, ComposeResult, ComposeSegment, SealOptions, UploadResult } from './object-store.ts';
import { encryptionProblem, sseParams } from './s3-client.ts';
import type { Send } from './s3-multipart.ts';
import { headOrNull, removeEverything, type S3Target } from './s3-upload.ts';
import { abortedError, assertValidUploadOptions } from './validate.ts';
import { assertValidSeal } from './file-compose.ts';

/**
 * The S3 driver's compose: one multipart upload whose parts are copied server-side from the source
 * objects' ranges (UploadPartCopy) where a range is large enough, and uploaded from inline bytes and
 * small ranges (read with ranged GetObject) otherwise; see compose-plan.ts for the cut. At most
 * `queueSize` parts are in flight, so memory is at most that many upload parts. Any failure cancels
 * the rest, aborts the upload and deletes the key and its manifest. An object under 5 MiB is one
 * PutObject. The result is checked with HeadObject (size, encryption) but left unsealed.
 */
export async function composeToS3(
  target: S3Target,
  key: string,
  storageKey: string,
  segments: readonly ComposeSegment[],
  fullOf: (key: string) => string,
  options: ComposeOptions = {},
): Promise<ComposeResult> {
  const { client, settings } = target;
  const bucket = settings.bucket;
  const send = client.send.bind(client) as Send;
  const { signal } = options;
  assertValidUploadOptions(options);
  if (signal?.aborted) throw abortedError(signal, `composing ${key}`);
  const bytes = await checkSegments(key, segments, async (source) => {
    const head = await headOrNull(send, bucket, fullOf(source)).catch((error: unknown) => {
      throw asStorageFailure(error, 'store_failed', `could not read ${source}`);
    });
    return head === null ? null : (head.ContentLength ?? 0);
  });
  const parts = planCompose(segments, { maxParts: settings.maxParts });
  const internal = new AbortController();
  let failure: BackupFailure | undefined;
  const fail = (error: BackupFailure) => {
    failure ??= error;
    if (!internal.signal.aborted) internal.abort(error);
  };
  const onAbort = () => fail(abortedError(signal!, `composing ${key}`));
  signal?.addEventListener('abort', onAbort, { once: true });
  const params = {
    ContentType: options.contentType ?? 'application/octet-stream',
    ...(options.metadata === undefined ? {} : { Metadata: options.metadata }),
    ...sseParams(settings.sse),
  };
  const checkEncryption = (output: Record<string, unknown>) => {
    const problem = encryptionProblem(settings.sse, output);
    if (problem !== null) throw storageFailed('encryption_not_honoured', `${key}: ${problem}`);
  };
  const read = (range: SourceRange) => readRange(send, bucket, fullOf(range.key), range, internal.signal);
  let uploadId: string | undefined;
  const inFlight = new Set<Promise<unknown>>();
  try {
    await send(new DeleteObjectCommand({ Bucket: bucket, Key: storageKey + MANIFEST_SUFFIX }));
    if (bytes < S3_MIN_PART_BYTES) {
      const body = await gather(segments, read);
      const output = await send(
        new PutObjectCommand({ Bucket: bucket, Key: storageKey, Body: body, ContentLength: body.length, ...params }),
        { abortSignal: internal.signal },
      );
      checkEncryption(output);
    } else {
      // Not cancelled with the parts: an upload created while nobody listened could never be aborted.
      const created = await send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: storageKey, ...params }));
      if (typeof created.UploadId !== 'string')
        throw storageFailed('store_failed', 'the store created a multipart upload without an id');
      uploadId = created.UploadId;
      checkEncryption(created);
      const completed: CompletedPart[] = [];
      let next = 0;
      const worker = async () => {
        while (next < parts.length && failure === undefined) {
          const index = next++;
          const request = sendPart(parts[index]!, index + 1);
          inFlight.add(request);
          try {
            completed.push(await request);
          } catch (error) {
            fail(asStorageFailure(error, 'store_failed', `part ${index + 1} of ${key} failed`));
          } finally {
            inFlight.delete(request);
          }
        }
      };
      const sendPart = async (part: ComposePart, partNumber: number): Promise<CompletedPart> => {
        const common = { Bucket: bucket, Key: storageKey, UploadId: uploadId, PartNumber: partNumber };
        if ('copy' in part) {
          const { copy } = part;
          const output = (await send(
            new UploadPartCopyCommand({
              ...common,
              CopySource: `${bucket}/${fullOf(copy.key).split('/').map(encodeURIComponent).join('/')}`,
              CopySourceRange: `bytes=${copy.start}-${copy.end}`,
            }),
            { abortSignal: internal.signal },
          )) as { CopyPartResult?: { ETag?: string } };
          const etag = output.CopyPartResult?.ETag;
          if (!etag) throw storageFailed('store_failed', `part ${partNumber} was copied without an ETag`);
          return { PartNumber: partNumber, ETag: etag };
        }
        const body = await gather(part.upload, read);
        const output = await send(new UploadPartCommand({ ...common, Body: body, ContentLength: body.length }), {
          abortSignal: internal.signal,
        });
        if (typeof output.ETag !== 'string')
          throw storageFailed('store_failed', `part ${partNumber} was stored without an ETag`);
        return { PartNumber: partNumber, ETag: output.ETag };
      };
      await Promise.all(Array.from({ length: Math.max(1, settings.queueSize) }, worker));

      if (failure) throw failure;
      completed.sort((a, b) => a.PartNumber! - b.PartNumber!);
      if (completed.length !== parts.length)
        throw storageFailed('store_failed', `${completed.length} of ${parts.length} parts were stored`);
      const output = await send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: storageKey,
          UploadId: uploadId,
          MultipartUpload: { Parts: completed },
        }),
        { abortSignal: internal.signal },
      );
      checkEncryption(output);
    }
    const head = await headOrNull(send, bucket, storageKey);
    if (head === null)
      throw storageFailed('missing_after_complete', `the store reported ${key} complete, but it is not there`);
    if (head.ContentLength !== bytes)
      throw storageFailed(
        'size_mismatch',
        `the store holds ${head.ContentLength ?? '?'} bytes for ${key}, ${bytes} were composed`,
      );
    checkEncryption(head as unknown as Record<string, unknown>);
    return { key, bytes };
  } catch (error) {
    const reason = failure ?? asStorageFailure(error, 'store_failed', `composing ${key} failed`);
    fail(reason);
    while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    const cleanupError = await removeEverything(send, bucket, storageKey, uploadId);
    throw cleanupError === undefined ? reason : withCleanupError(reason, cleanupError);
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/** The S3 driver's seal: HeadObject must show `expected.bytes` (and the encryption asked for); then the manifest. */
export async function sealS3(
  target: S3Target,
  key: string,
  storageKey: string,
  expected: SealOptions,
): Promise<UploadResult> {
  assertValidSeal(expected);
  const { client, settings } = target;
  const send = client.send.bind(client) as Send;
  const head = await headOrNull(send, settings.bucket, storageKey).catch((error: unknown) => {
    throw asStorageFailure(error, 'store_failed', `could not read ${key}`);
  });
  if (head === null) throw storageFailed('not_found', `${key} is not in the store`);
  if (head.ContentLength !== expected.bytes)
    throw storageFailed(
      'size_mismatch',
      `the store holds ${head.ContentLength ?? '?'} bytes for ${key}, ${expected.bytes} were expected`,
    );
  const problem = encryptionProblem(settings.sse, head);
  if (problem !== null) throw storageFailed('encryption_not_honoured', `${key}: ${problem}`);
  const manifest: ObjectManifest = {
    version: 1,
    key,
    bytes: expected.bytes,
    sha256: expected.sha256,
    sealedAt: new Date().toISOString(),
    metadata: expected.metadata ?? {},
    ...(head.ETag === undefined ? {} : { etag: head.ETag }),
  };
  try {
    const sealed = await send(
      new PutObjectCommand({
        Bucket: settings.bucket,
        Key: storageKey + MANIFEST_SUFFIX,
        Body: serializeManifest(manifest),
        ContentType: 'application/json',
        ...sseParams(settings.sse),
      }),
    );
    const manifestProblem = encryptionProblem(settings.sse, sealed);
    if (manifestProblem !== null) throw storageFailed('encryption_not_honoured', `${key} manifest: ${manifestProblem}`);
  } catch (error) {
    await send(new DeleteObjectCommand({ Bucket: settings.bucket, Key: storageKey + MANIFEST_SUFFIX })).catch(() => {});
    throw asStorageFailure(error, 'store_failed', `sealing ${key} failed`);
  }
  return { key, bytes: expected.bytes, sha256: expected.sha256 };
}

/** The bytes of inline segments and ranges, read into one buffer. */
async function gather(
  sources: ReadonlyArray<Buffer | SourceRange>,
  read: (range: SourceRange) => Promise<Buffer>,
): Promise<Buffer> {
  const total = sources.reduce((sum, s) => sum + size(s), 0);
  const out = Buffer.allocUnsafe(total);
  let at = 0;
  for (const source of sources) {
    const bytes = Buffer.isBuffer(source) ? source : await read(source);
    if (bytes.length !== size(source))
      throw storageFailed('size_mismatch', `read ${bytes.length} bytes of a ${size(source)}-byte range`);
    bytes.copy(out, at);
    at += bytes.length;
  }
  return out;
}

async function readRange(send: Send, bucket: string, storageKey: string, range: SourceRange, signal: AbortSignal) {
  const output = await send(
    new GetObjectCommand({ Bucket: bucket, Key: storageKey, Range: `bytes=${range.start}-${range.end}` }),
    { abortSignal: signal },
  );
  const chunks: Buffer[] = [];
  for await (const chunk of output.Body as Readable) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
