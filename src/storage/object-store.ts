import type { Readable } from 'node:stream';
import type { ObjectManifest } from './manifest.ts';

export type { ObjectManifest } from './manifest.ts';

/**
 * Where backup archives live. Two drivers implement it and pass the same contract tests:
 * S3 (or an S3-compatible store) and a local folder (the embedded default). Open one with
 * `openObjectStore(url, env)`.
 *
 * The central promise is about `upload`: it resolves only when every byte read from the body is
 * durably stored, the stored size equals the number of bytes read, and the SHA-256 of exactly those
 * bytes is recorded in the store itself (a sidecar manifest written last, so an object without a
 * manifest is never "complete"). In every other case it rejects with a storage failure (a BackupFailure of a `storage_` kind), after removing
 * what it wrote (aborted multipart upload, deleted object, removed temporary file). If even that
 * cleanup fails, the error says so, and the janitor (`listIncompleteUploads`, `list` with
 * `sealed: false`) finds the rest.
 */
export interface ObjectStore {
  readonly kind: 's3' | 'file';
  /** Where objects go, safe to log: `s3://bucket/prefix` or `file:///path`, never credentials. */
  readonly location: string;

  /**
   * Streams `body` to `key`, hashing and counting on the way, then proves and seals the result
   * (see above). The body is consumed; on failure it is destroyed.
   */
  upload(key: string, body: Readable, options?: UploadOptions): Promise<UploadResult>;

  /** What is stored at `key` now, with its manifest if it was sealed; null when there is no object. */
  head(key: string): Promise<ObjectInfo | null>;

  /**
   * The stored bytes, whole or a range (`start` and `end` inclusive, like HTTP ranges). Rejects with
   * `not_found` or `invalid_range` before any byte is delivered.
   */
  read(key: string, options?: ReadOptions): Promise<Readable>;

  /**
   * A short-lived URL that downloads the object as an attachment named `filename`; null when the
   * store has no such URLs (the file driver: our app serves those files itself).
   */
  presignGet(key: string, options: PresignOptions): Promise<string | null>;

  /**
   * Writes the manifest again for an object whose stored bytes the caller has just read in full and
   * found to be `proven` (an archive re-check of an object that lost its manifest). Rejects with
   * `not_found` when there is no object and `size_mismatch` when its size is not `proven.bytes` now.
   */
  reseal(key: string, proven: ProvenObject): Promise<void>;

  /** Removes the object and its manifest (manifest first). Deleting what is not there succeeds. */
  delete(key: string): Promise<void>;

  /** Objects whose key starts with `prefix` (manifests themselves are not listed). */
  list(prefix: string): Promise<ListedObject[]>;

  /**
   * Removes for good every object and manifest whose key starts with `prefix` and, on a bucket that keeps
   * versions, every older version and delete marker under it. A store that cannot list versions
   * (no ListObjectVersions) has its current objects deleted, and says so in the result.
   */
  purge(prefix: string): Promise<PurgeResult>;

  /**
   * Uploads that were started and never completed or aborted, under `prefix`: open multipart
   * uploads on S3, leftover temporary files on disk. Uploads still running are listed too; the
   * janitor must only abort those older than the longest possible attempt.
   */
  listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]>;

  /** Aborts one upload found by `listIncompleteUploads`; aborting one that is already gone succeeds. */
  abortIncompleteUpload(upload: IncompleteUpload): Promise<void>;

  /**
   * Writes one object at `key` from `segments`, in order: inline bytes and byte ranges of objects
   * already in this store (the pieces of a sharded capture). On S3 large ranges are copied
   * server-side (UploadPartCopy) and never pass through this process; on disk the bytes are
   * concatenated into a temporary file renamed into place. The result is NOT sealed: it has no
   * manifest until `seal`, after the caller proved it. Ranges outside their object reject with
   * `invalid_range` before anything is written; on any failure what was written is removed.
   */
  compose(key: string, segments: readonly ComposeSegment[], options?: ComposeOptions): Promise<ComposeResult>;

  /**
   * Seals an object written by `compose`: checks that the store holds exactly `expected.bytes`
   * (`size_mismatch` otherwise, leaving the object unsealed) and writes its manifest with the given
   * digest, as `upload` does.
   */
  seal(key: string, expected: SealOptions): Promise<UploadResult>;

  /** Releases sockets; the store cannot be used afterwards. */
  close(): Promise<void>;
}

export interface UploadOptions {
  /** Cancels the upload (job expiry, shutdown); the returned promise rejects with `aborted` after cleanup. */
  signal?: AbortSignal;
  /**
   * Expected size of the stream in bytes. The S3 driver sizes parts from it so the upload can never
   * reach the store's part-count limit, and refuses at once if no part size could fit it.
   */
  sizeEstimate?: number;
  /** Short descriptive values (ASCII, ≤ 2 KiB in all), kept with the object and in its manifest. */
  metadata?: Record<string, string>;
  contentType?: string;
  /**
   * Settles when the producer of `body` has finished (e.g. pg_dump's exit). The object is sealed
   * only if it resolves; if it rejects, the upload is abandoned at once and everything removed.
   * Without it, a body that simply ends early would be stored as if it were whole.
   */
  sourceDone?: Promise<unknown>;
  /** Called as bytes move (about once per MiB); keep it cheap. */
  onProgress?: (progress: UploadProgress) => void;
  /**
   * One of many uploads running side by side in the process (a sharded capture's pieces): the S3
   * driver then buffers as little as S3 allows, parts of 5 MiB (larger only when the estimate needs
   * it) with at most 2 in flight, instead of the store's part size × (queue size + 1) for each
   * upload, which for 4 pieces at once at 16 MiB × 5 would be 320 MiB.
   */
  lean?: boolean;
}

export interface UploadProgress {
  /** Bytes read from the body so far. */
  bytesRead: number;
  /** Bytes the store has acknowledged so far (completed parts on S3, written bytes on disk). */
  bytesStored: number;
}

export interface UploadResult {
  key: string;
  bytes: number;
  /** Lower-case hex SHA-256 of exactly the bytes stored. */
  sha256: string;
}

/** What a full read of a stored object found, for `reseal`. */
export interface ProvenObject {
  bytes: number;
  /** Lower-case hex SHA-256 of the bytes read. */
  sha256: string;
  /** Kept in the new manifest, as `UploadOptions.metadata`. */
  metadata?: Record<string, string>;
}

export interface ObjectInfo {
  key: string;
  /** Size as stored now. */
  bytes: number;
  lastModified: Date;
  /** The record written when the upload was sealed; null if none (unfinished, or unreadable). */
  manifest: ObjectManifest | null;
  /** Server-side encryption the store reports (S3 only). */
  encryption?: { algorithm: string; kmsKeyId?: string };
}

export interface ListedObject {
  key: string;
  bytes: number;
  lastModified: Date;
  /** Whether a manifest exists beside it. Unsealed objects are leftovers of failed attempts. */
  sealed: boolean;
}

export interface PurgeResult {
  /** Objects, manifests, versions and delete markers removed. */
  removed: number;
  /**
   * False when the store could not list object versions, so only current objects were deleted: on a
   * versioned bucket, older versions may remain (the caller logs it).
   */
  everyVersion: boolean;
}

export interface IncompleteUpload {
  key: string;
  /** The multipart upload id on S3, the temporary file's name on disk. */
  uploadId: string;
  /** When it started (S3) or last received bytes (disk). */
  initiated: Date;
}

export interface ReadOptions {
  start?: number;
  /** Inclusive. */
  end?: number;
  signal?: AbortSignal;
}

export interface PresignOptions {
  /** At most 604,800 (7 days, the SigV4 limit); links should use a few minutes. */
  expiresInSeconds: number;
  /** The download's file name, sent back as `Content-Disposition: attachment; filename=…`. */
  filename: string;
}

/**
 * One part of an object built by `compose`: bytes given inline, or a byte range (inclusive at both
 * ends, like `read`) of an object already in the same store.
 */
export type ComposeSegment = Buffer | { key: string; start: number; end: number };

export interface ComposeOptions {
  /** Cancels the composition; it rejects with `aborted` after removing what it wrote. */
  signal?: AbortSignal;
  contentType?: string;
  /** Object metadata (S3), as for `upload`; the manifest's metadata is given to `seal`. */
  metadata?: Record<string, string>;
}

export interface ComposeResult {
  key: string;
  /** The composed object's size, checked against the store. */
  bytes: number;
}

export interface SealOptions {
  bytes: number;
  /** Lower-case hex SHA-256 of the object's bytes, proven by the caller (it read them back). */
  sha256: string;
  metadata?: Record<string, string>;
}
