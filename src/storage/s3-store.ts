import {
  AbortMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import type { Readable } from 'node:stream';
import { asStorageFailure, storageFailed } from './errors.ts';
import { assertValidKey, assertValidPrefix, joinKey, MANIFEST_SUFFIX } from './keys.ts';
import { parseManifest, type ObjectManifest } from './manifest.ts';
import type {
  ComposeOptions,
  ComposeResult,
  ComposeSegment,
  IncompleteUpload,
  ListedObject,
  ObjectInfo,
  ObjectStore,
  PresignOptions,
  ReadOptions,
  SealOptions,
  UploadOptions,
  UploadResult,
} from './object-store.ts';
import { createS3Client, isS3NotFound } from './s3-client.ts';
import { composeToS3, sealS3 } from './s3-compose.ts';
import { uploadToS3 } from './s3-upload.ts';
import type { S3Settings } from './storage-url.ts';
import { assertValidExpiry, assertValidRange, attachmentDisposition } from './validate.ts';

/** The S3 driver: any S3-compatible store, keys stored under the URL's prefix. */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3';
  readonly location: string;
  readonly #settings: S3Settings;
  readonly #client: S3Client;

  constructor(settings: S3Settings, location: string, client: S3Client = createS3Client(settings)) {
    this.#settings = settings;
    this.location = location;
    this.#client = client;
  }

  async upload(key: string, body: Readable, options: UploadOptions = {}): Promise<UploadResult> {
    // Its failure is reported through our rejection; never leave it unhandled if we refuse early.
    options.sourceDone?.catch(() => {});
    try {
      assertValidKey(key);
    } catch (error) {
      body.destroy();
      throw error;
    }
    return uploadToS3({ client: this.#client, settings: this.#settings }, key, this.#full(key), body, options);
  }

  async compose(
    key: string,
    segments: readonly ComposeSegment[],
    options: ComposeOptions = {},
  ): Promise<ComposeResult> {
    assertValidKey(key);
    for (const segment of segments) if (!Buffer.isBuffer(segment)) assertValidKey(segment.key);
    const target = { client: this.#client, settings: this.#settings };
    return composeToS3(target, key, this.#full(key), segments, (source) => this.#full(source), options);
  }

  async seal(key: string, expected: SealOptions): Promise<UploadResult> {
    assertValidKey(key);
    return sealS3({ client: this.#client, settings: this.#settings }, key, this.#full(key), expected);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    assertValidKey(key);
    const full = this.#full(key);
    let head;
    try {
      head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#settings.bucket, Key: full }));
    } catch (error) {
      if (isS3NotFound(error)) return null;
      throw asStorageFailure(error, 'store_failed', `could not read ${key}`);
    }
    return {
      key,
      bytes: head.ContentLength ?? 0,
      lastModified: head.LastModified ?? new Date(0),
      manifest: await this.#readManifest(key),
      ...(head.ServerSideEncryption === undefined
        ? {}
        : {
            encryption: {
              algorithm: head.ServerSideEncryption,
              ...(head.SSEKMSKeyId === undefined ? {} : { kmsKeyId: head.SSEKMSKeyId }),
            },
          }),
    };
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    assertValidKey(key);
    assertValidRange(options);
    const { start, end, signal } = options;
    const range = start === undefined && end === undefined ? undefined : `bytes=${start ?? 0}-${end ?? ''}`;
    try {
      const out = await this.#client.send(
        new GetObjectCommand({
          Bucket: this.#settings.bucket,
          Key: this.#full(key),
          ...(range === undefined ? {} : { Range: range }),
        }),
        signal === undefined ? {} : { abortSignal: signal },
      );
      return out.Body as Readable;
    } catch (error) {
      if (isS3NotFound(error)) throw storageFailed('not_found', `${key} is not in the store`, { cause: error });
      if ((error as { name?: string }).name === 'InvalidRange') {
        throw storageFailed('invalid_range', `the range ${range ?? ''} is outside ${key}`, { cause: error });
      }
      throw asStorageFailure(error, 'store_failed', `could not read ${key}`);
    }
  }

  async presignGet(key: string, options: PresignOptions): Promise<string> {
    assertValidKey(key);
    assertValidExpiry(options.expiresInSeconds);
    const command = new GetObjectCommand({
      Bucket: this.#settings.bucket,
      Key: this.#full(key),
      ResponseContentDisposition: attachmentDisposition(options.filename),
      // A whole database must not stay in a browser's or a proxy's cache past the URL's few minutes.
      ResponseCacheControl: 'no-store',
    });
    return getSignedUrl(this.#client, command, { expiresIn: options.expiresInSeconds });
  }

  async delete(key: string): Promise<void> {
    assertValidKey(key);
    // Manifest first: a crash in between leaves an unsealed object, which the janitor removes,
    // never a manifest vouching for bytes that are gone.
    for (const target of [this.#full(key) + MANIFEST_SUFFIX, this.#full(key)]) {
      try {
        await this.#client.send(new DeleteObjectCommand({ Bucket: this.#settings.bucket, Key: target }));
      } catch (error) {
        if (!isS3NotFound(error)) throw asStorageFailure(error, 'store_failed', `could not delete ${key}`);
      }
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    assertValidPrefix(prefix);
    const found = new Map<string, ListedObject>();
    const sealed = new Set<string>();
    let token: string | undefined;
    do {
      const page = await this.#client.send(
        new ListObjectsV2Command({
          Bucket: this.#settings.bucket,
          Prefix: this.#full(prefix),
          ...(token === undefined ? {} : { ContinuationToken: token }),
        }),
      );
      for (const item of page.Contents ?? []) {
        const key = this.#relative(item.Key);
        if (key === null) continue;
        if (key.endsWith(MANIFEST_SUFFIX)) sealed.add(key.slice(0, -MANIFEST_SUFFIX.length));
        else
          found.set(key, { key, bytes: item.Size ?? 0, lastModified: item.LastModified ?? new Date(0), sealed: false });
      }
      token = page.IsTruncated === true ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
    return [...found.values()].map((item) => ({ ...item, sealed: sealed.has(item.key) }));
  }

  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    assertValidPrefix(prefix);
    const uploads: IncompleteUpload[] = [];
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    do {
      const page = await this.#client.send(
        new ListMultipartUploadsCommand({
          Bucket: this.#settings.bucket,
          Prefix: this.#full(prefix),
          ...(keyMarker === undefined ? {} : { KeyMarker: keyMarker }),
          ...(uploadIdMarker === undefined ? {} : { UploadIdMarker: uploadIdMarker }),
        }),
      );
      for (const upload of page.Uploads ?? []) {
        const key = this.#relative(upload.Key);
        if (key === null || upload.UploadId === undefined) continue;
        uploads.push({ key, uploadId: upload.UploadId, initiated: upload.Initiated ?? new Date(0) });
      }
      const more = page.IsTruncated === true;
      keyMarker = more ? page.NextKeyMarker : undefined;
      uploadIdMarker = more ? page.NextUploadIdMarker : undefined;
    } while (keyMarker !== undefined);
    return uploads;
  }

  async abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    assertValidKey(upload.key);
    try {
      await this.#client.send(
        new AbortMultipartUploadCommand({
          Bucket: this.#settings.bucket,
          Key: this.#full(upload.key),
          UploadId: upload.uploadId,
        }),
      );
    } catch (error) {
      if (!isS3NotFound(error))
        throw asStorageFailure(error, 'store_failed', `could not abort the upload of ${upload.key}`);
    }
  }

  async close(): Promise<void> {
    this.#client.destroy();
  }

  async #readManifest(key: string): Promise<ObjectManifest | null> {
    try {
      const out = await this.#client.send(
        new GetObjectCommand({ Bucket: this.#settings.bucket, Key: this.#full(key) + MANIFEST_SUFFIX }),
      );
      return parseManifest(await out.Body!.transformToString('utf8'), key);
    } catch (error) {
      if (isS3NotFound(error)) return null;
      throw asStorageFailure(error, 'store_failed', `could not read the manifest of ${key}`);
    }
  }

  #full(key: string): string {
    return joinKey(this.#settings.prefix, key);
  }

  /** A stored key relative to the store's prefix; null for keys outside it. */
  #relative(stored: string | undefined): string | null {
    if (stored === undefined) return null;
    const root = this.#settings.prefix === '' ? '' : this.#settings.prefix + '/';
    return stored.startsWith(root) ? stored.slice(root.length) : null;
  }
}
