import {
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  PutObjectCommand,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Writable } from 'node:stream';
import { asStorageFailure, storageFailed } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { freeBuffer } from '../shared/free-buffer.ts';

export type Send = (command: unknown, options?: { abortSignal?: AbortSignal }) => Promise<Record<string, unknown>>;

/** The object-level request parameters (content type, metadata, server-side encryption). */
export interface ObjectParams {
  ContentType: string;
  Metadata?: Record<string, string>;
  ServerSideEncryption?: 'AES256' | 'aws:kms';
  SSEKMSKeyId?: string;
}

export interface MultipartWriterOptions {
  send: Send;
  bucket: string;
  key: string;
  params: ObjectParams;
  partSize: number;
  /**
   * Size of the first buffer when the object is expected to be smaller than a part (default
   * partSize): a small object then costs its own size, not a whole part buffer. A stream that
   * outgrows it moves to a part-sized buffer (one copy of what it held).
   */
  firstBufferBytes?: number;
  /** Parts uploading at once; one more buffer is being filled meanwhile. */
  queueSize: number;
  /** Ask for CRC32 part checksums (the SDK computes them) and pass them to CompleteMultipartUpload. */
  partChecksums: boolean;
  /** Cancels every request in flight; the caller aborts it on any failure. */
  signal: AbortSignal;
  /** Why a response that created an object or upload does not confirm the encryption asked for, or null. */
  encryptionProblem(output: Record<string, unknown>): string | null;
  /** Called with the bytes stored so far each time a part (or the single PUT) is stored. */
  onStored?(bytesStored: number): void;
}

/**
 * A Writable that stores what is written to it as one S3 object, with a fixed pool of part buffers:
 * at most `queueSize` parts upload at once while one more fills, so memory is `partSize × (queueSize + 1)`
 * whatever the size of the stream. Written bytes are copied straight into the buffer being filled;
 * a buffer goes back to the pool only when its request settled (the SDK's retries resend it).
 *
 * A stream that ends before its first part is full is stored with a single PutObject, as lib-storage
 * does; otherwise the multipart upload is created with the first part. The first failing part fails
 * the writer at once. The caller owns cleanup: after a failure it aborts `signal`, waits for
 * `settled()`, and aborts the upload named by `uploadId` (and deletes the key).
 *
 * Why not lib-storage's Upload: it joins each part with Buffer.concat (a second copy per part), its
 * remainder view pins the previous part's buffer, and part buffers are left for the garbage collector;
 * measured, a worker's RSS grew 60–100 MB past partSize × (queueSize + 2) at 16 MiB parts.
 */
export class MultipartWriter extends Writable {
  /** The multipart upload's id, once created (undefined for a single PUT). */
  uploadId: string | undefined;

  readonly #options: MultipartWriterOptions;
  readonly #free: Buffer[] = [];
  #allocated = 0;
  #waiters: (() => void)[] = [];
  #current: Buffer | undefined;
  #filled = 0;
  #nextPart = 1;
  #creating: Promise<string> | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  readonly #parts: CompletedPart[] = [];
  #bytesStored = 0;
  #failure: BackupFailure | undefined;

  constructor(options: MultipartWriterOptions) {
    super({ highWaterMark: 0 });
    this.#options = options;
  }

  /** Resolves once no request of this writer is in flight (and the create, if started, answered). */
  async settled(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
    await this.#creating?.catch(() => {});
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.#take(chunk).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.#finish().then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.#failure ??= error
      ? asStorageFailure(error, 'store_failed', 'the upload failed')
      : storageFailed('store_failed', 'the upload was stopped');
    this.#wake();
    callback(error);
  }

  async #take(chunk: Buffer): Promise<void> {
    const { partSize } = this.#options;
    let offset = 0;
    while (offset < chunk.length) {
      if (this.#failure) throw this.#failure;
      if (this.#current === undefined) {
        this.#current = await this.#acquire();
        this.#filled = 0;
        continue;
      }
      if (this.#filled === this.#current.length && this.#current.length < partSize) {
        this.#grow();
        continue;
      }
      const copied = chunk.copy(this.#current, this.#filled, offset);
      offset += copied;
      this.#filled += copied;
      if (this.#filled === partSize) await this.#dispatch();
    }
  }

  async #finish(): Promise<void> {
    if (this.#failure) throw this.#failure;
    if (this.#nextPart === 1) return this.#putSingle();
    if (this.#filled > 0) await this.#dispatch();
    await this.settled();
    // eslint-disable-next-line @typescript-eslint/only-throw-error -- set by a part's failure during the awaits above, which TypeScript's narrowing does not see
    if (this.#failure) throw this.#failure;
    const { send, bucket, key } = this.#options;
    const parts = [...this.#parts].sort((a, b) => a.PartNumber! - b.PartNumber!);
    if (parts.length !== this.#nextPart - 1)
      throw storageFailed('store_failed', `${parts.length} of ${this.#nextPart - 1} parts were stored`);
    const output = await this.#call('the store refused to complete the upload', () =>
      send(
        new CompleteMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          UploadId: this.uploadId,
          MultipartUpload: { Parts: parts },
        }),
        { abortSignal: this.#options.signal },
      ),
    );
    this.#checkEncryption(output);
    this.#releasePool();
  }

  async #putSingle(): Promise<void> {
    const { send, bucket, key, params } = this.#options;
    const body = this.#current === undefined ? Buffer.alloc(0) : this.#current.subarray(0, this.#filled);
    const output = await this.#call('the store refused the upload', () =>
      send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: body,
          ContentLength: body.length,
          ...params,
        }),
        { abortSignal: this.#options.signal },
      ),
    );
    this.#checkEncryption(output);
    this.#bytesStored = body.length;
    this.#options.onStored?.(this.#bytesStored);
    this.#releasePool();
  }

  /**
   * Gives the part buffers' memory back at once, rather than when the garbage collector gets to them
   * (V8 collects only after tens of MiB of new external memory, and verification reads the whole
   * object next). Every request has settled, so nothing else holds them; `transfer(0)` detaches each
   * buffer's own ArrayBuffer (Buffer.allocUnsafe gives parts of this size one each) and frees it.
   */
  #releasePool(): void {
    const buffers = [...this.#free, ...(this.#current ? [this.#current] : [])];
    this.#free.length = 0;
    this.#current = undefined;
    for (const buffer of buffers) freeBuffer(buffer);
  }

  /**
   * Hands the buffer being filled to an UploadPart request once fewer than queueSize are in flight;
   * it returns to the pool when that request settles.
   */
  async #dispatch(): Promise<void> {
    while (this.#inFlight.size >= this.#options.queueSize) {
      if (this.#failure) throw this.#failure;
      await this.#nextRelease();
    }
    if (this.#failure) throw this.#failure;
    const buffer = this.#current!;
    const body = buffer.subarray(0, this.#filled);
    const partNumber = this.#nextPart++;
    this.#current = undefined;
    this.#filled = 0;
    const { send, bucket, key, partChecksums, signal } = this.#options;
    const request = (async () => {
      const uploadId = await (this.#creating ??= this.#create());
      if (this.#failure) throw this.#failure;
      const output = (await this.#call(`part ${partNumber} failed`, () =>
        send(
          new UploadPartCommand({
            Bucket: bucket,
            Key: key,
            UploadId: uploadId,
            PartNumber: partNumber,
            Body: body,
            ContentLength: body.length,
            ...(partChecksums ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
          }),
          { abortSignal: signal },
        ),
      )) as { ETag?: string; ChecksumCRC32?: string };
      if (!output.ETag) throw storageFailed('store_failed', `part ${partNumber} was stored without an ETag`);
      this.#parts.push({
        PartNumber: partNumber,
        ETag: output.ETag,
        ...(output.ChecksumCRC32 === undefined ? {} : { ChecksumCRC32: output.ChecksumCRC32 }),
      });
      this.#bytesStored += body.length;
      this.#options.onStored?.(this.#bytesStored);
    })()
      .catch((error: unknown) => {
        this.#fail(asStorageFailure(error, 'store_failed', `part ${partNumber} failed`));
      })
      .finally(() => {
        this.#inFlight.delete(request);
        this.#free.push(buffer);
        this.#wake();
      });
    this.#inFlight.add(request);
  }

  async #create(): Promise<string> {
    const { send, bucket, key, params, partChecksums } = this.#options;
    // Not cancelled with the parts: a create the store performed but we stopped listening to would
    // leave an upload whose id we never learn. Let it answer, so the caller can abort it.
    const output = await this.#call('the store refused the upload', () =>
      send(
        new CreateMultipartUploadCommand({
          Bucket: bucket,
          Key: key,
          ...params,
          ...(partChecksums ? { ChecksumAlgorithm: 'CRC32' as const } : {}),
        }),
      ),
    );
    if (typeof output.UploadId !== 'string')
      throw storageFailed('store_failed', 'the store created a multipart upload without an id');
    this.uploadId = output.UploadId;
    // Checked before a single part is sent: nothing leaves unencrypted when encryption was asked for.
    this.#checkEncryption(output);
    return output.UploadId;
  }

  /** The small first buffer is full and more is coming: a part-sized buffer takes its place and bytes. */
  #grow(): void {
    const small = this.#current!;
    const full = Buffer.allocUnsafe(this.#options.partSize);
    small.copy(full, 0, 0, this.#filled);
    this.#current = full;
    freeBuffer(small);
  }

  /** A free part buffer: from the pool, newly allocated up to queueSize + 1, or the next one released. */
  async #acquire(): Promise<Buffer> {
    const { partSize, queueSize } = this.#options;
    for (;;) {
      if (this.#failure) throw this.#failure;
      const free = this.#free.pop();
      if (free) return free;
      if (this.#allocated < queueSize + 1) {
        this.#allocated += 1;
        // The first buffer of an object expected to be small is only as big as it.
        const first = this.#allocated === 1 ? (this.#options.firstBufferBytes ?? partSize) : partSize;
        return Buffer.allocUnsafe(Math.min(partSize, Math.max(1, first)));
      }
      await this.#nextRelease();
    }
  }

  /** Resolves when a request settles (a buffer or a slot is free again) or the writer fails. */
  #nextRelease(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }

  #fail(error: BackupFailure): void {
    this.#failure ??= error;
    this.#wake();
    if (!this.destroyed) this.destroy(this.#failure);
  }

  #checkEncryption(output: Record<string, unknown>): void {
    const problem = this.#options.encryptionProblem(output);
    if (problem !== null) throw storageFailed('encryption_not_honoured', problem);
  }

  /** Runs one request; the writer's first failure wins over the errors of requests it cancelled. */
  async #call(what: string, request: () => Promise<Record<string, unknown>>): Promise<Record<string, unknown>> {
    try {
      return await request();
    } catch (error) {
      if (this.#failure) throw this.#failure;
      throw asStorageFailure(error, 'store_failed', what);
    }
  }
}
