import { mkdir, open, readdir, readFile, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';
import { asStorageFailure, storageFailed } from './errors.ts';
import { composeToFile, sealFile } from './file-compose.ts';
import { syncDirectory, TEMPORARY_NAME, uploadToFile } from './file-upload.ts';
import { assertValidKey, assertValidPrefix, MANIFEST_SUFFIX } from './keys.ts';
import { parseManifest } from './manifest.ts';
import type {
  ComposeOptions,
  ComposeResult,
  ComposeSegment,
  IncompleteUpload,
  ListedObject,
  ObjectInfo,
  ObjectStore,
  ReadOptions,
  SealOptions,
  UploadOptions,
  UploadResult,
} from './object-store.ts';
import { assertValidRange } from './validate.ts';

/**
 * The local-disk driver, the embedded default: one file per key under `root`, a sidecar manifest
 * beside each sealed file, temporary files while writing. It has no presigned URLs; our app serves
 * these files itself behind the same expiring links.
 */
export class FileObjectStore implements ObjectStore {
  readonly kind = 'file';
  readonly location: string;
  readonly #root: string;

  constructor(root: string, location = `file://${root}`) {
    if (!path.isAbsolute(root))
      throw storageFailed('invalid_config', `the storage folder must be an absolute path, not ${root}`);
    this.#root = path.resolve(root);
    this.location = location;
  }

  /** Creates the storage folder if needed. */
  async init(): Promise<this> {
    await mkdir(this.#root, { recursive: true });
    return this;
  }

  async upload(key: string, body: Readable, options: UploadOptions = {}): Promise<UploadResult> {
    // Its failure is reported through our rejection; never leave it unhandled if we refuse early.
    options.sourceDone?.catch(() => {});
    let target: string;
    try {
      target = this.#path(key);
    } catch (error) {
      body.destroy();
      throw error;
    }
    return uploadToFile(key, target, body, options);
  }

  async compose(
    key: string,
    segments: readonly ComposeSegment[],
    options: ComposeOptions = {},
  ): Promise<ComposeResult> {
    return composeToFile(key, this.#path(key), segments, (source) => this.#path(source), options);
  }

  async seal(key: string, expected: SealOptions): Promise<UploadResult> {
    return sealFile(key, this.#path(key), expected);
  }

  async head(key: string): Promise<ObjectInfo | null> {
    const target = this.#path(key);
    const stats = await stat(target).catch(nullIfMissing);
    if (stats === null || !stats.isFile()) return null;
    const text = await readFile(target + MANIFEST_SUFFIX, 'utf8').catch(nullIfMissing);
    return {
      key,
      bytes: stats.size,
      lastModified: stats.mtime,
      manifest: text === null ? null : parseManifest(text, key),
    };
  }

  async read(key: string, options: ReadOptions = {}): Promise<Readable> {
    const target = this.#path(key);
    assertValidRange(options);
    const handle = await open(target, 'r').catch(nullIfMissing);
    if (handle === null) throw storageFailed('not_found', `${key} is not in the store`);
    try {
      const { size } = await handle.stat();
      const { start, signal } = options;
      if (start !== undefined && start >= size) {
        throw storageFailed('invalid_range', `the range starting at ${start} is outside ${key} (${size} bytes)`);
      }
      const end = options.end === undefined ? undefined : Math.min(options.end, size - 1);
      const stream = handle.createReadStream({
        ...(start === undefined ? {} : { start }),
        ...(end === undefined ? {} : { end }),
      });
      return signal === undefined ? stream : addAbortSignal(signal, stream);
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async presignGet(key: string): Promise<null> {
    assertValidKey(key);
    return null;
  }

  async delete(key: string): Promise<void> {
    const target = this.#path(key);
    try {
      // Manifest first: a crash in between leaves an unsealed file, never a manifest without bytes.
      await rm(target + MANIFEST_SUFFIX, { force: true });
      await rm(target, { force: true });
      await syncDirectory(path.dirname(target)).catch(nullIfMissing);
    } catch (error) {
      throw asStorageFailure(error, 'store_failed', `could not delete ${key}`);
    }
  }

  async list(prefix: string): Promise<ListedObject[]> {
    const files = await this.#walk(prefix);
    // A manifest still under its temporary name seals nothing: the crash came before its rename.
    const sealed = new Set(
      files
        .filter((f) => !f.temporary && f.key.endsWith(MANIFEST_SUFFIX))
        .map((f) => f.key.slice(0, -MANIFEST_SUFFIX.length)),
    );
    const listed: ListedObject[] = [];
    for (const file of files) {
      if (file.temporary || file.key.endsWith(MANIFEST_SUFFIX) || !file.key.startsWith(prefix)) continue;
      const stats = await stat(file.path).catch(nullIfMissing);
      if (stats === null) continue;
      listed.push({ key: file.key, bytes: stats.size, lastModified: stats.mtime, sealed: sealed.has(file.key) });
    }
    return listed;
  }

  async listIncompleteUploads(prefix: string): Promise<IncompleteUpload[]> {
    const uploads: IncompleteUpload[] = [];
    for (const file of await this.#walk(prefix)) {
      if (!file.temporary) continue;
      // A manifest's temporary file belongs to the object it would seal.
      const key = file.key.endsWith(MANIFEST_SUFFIX) ? file.key.slice(0, -MANIFEST_SUFFIX.length) : file.key;
      if (!key.startsWith(prefix)) continue;
      const stats = await stat(file.path).catch(nullIfMissing);
      if (stats === null) continue;
      uploads.push({ key, uploadId: path.basename(file.path), initiated: stats.mtime });
    }
    return uploads;
  }

  async abortIncompleteUpload(upload: IncompleteUpload): Promise<void> {
    const target = this.#path(upload.key);
    const name = TEMPORARY_NAME.exec(upload.uploadId)?.[1];
    const base = path.basename(target);
    if (name !== base && name !== base + MANIFEST_SUFFIX) {
      throw storageFailed('invalid_key', `${JSON.stringify(upload.uploadId)} is not a temporary file of ${upload.key}`);
    }
    await rm(path.join(path.dirname(target), upload.uploadId), { force: true });
  }

  async close(): Promise<void> {}

  /** The file for a key; the key rules already make escaping the root impossible, this checks again. */
  #path(key: string): string {
    assertValidKey(key);
    const target = path.join(this.#root, ...key.split('/'));
    if (!target.startsWith(this.#root + path.sep))
      throw storageFailed('invalid_key', `${JSON.stringify(key)} leaves the storage folder`);
    return target;
  }

  /**
   * Every file in the deepest folder the prefix names, with its key (for a temporary file, the key
   * it was being written for). Hidden folders are skipped: keys never contain them.
   */
  async #walk(prefix: string): Promise<Array<{ key: string; path: string; temporary: boolean }>> {
    assertValidPrefix(prefix);
    const folder = prefix.includes('/') ? prefix.slice(0, prefix.lastIndexOf('/')) : '';
    const start = folder === '' ? this.#root : path.join(this.#root, ...folder.split('/'));
    const entries = (await readdir(start, { recursive: true, withFileTypes: true }).catch(nullIfMissing)) ?? [];
    const files: Array<{ key: string; path: string; temporary: boolean }> = [];
    for (const entry of entries) {
      if (!entry.isFile()) continue;
      const full = path.join(entry.parentPath, entry.name);
      const segments = path.relative(this.#root, full).split(path.sep);
      const name = segments.pop() ?? '';
      if (segments.some((segment) => segment.startsWith('.'))) continue;
      const temporary = TEMPORARY_NAME.exec(name);
      if (name.startsWith('.') && temporary === null) continue;
      const key = [...segments, temporary?.[1] ?? name].join('/');
      files.push({ key, path: full, temporary: temporary !== null });
    }
    return files;
  }
}

/** For `.catch()`: missing files and folders become null, other errors are rethrown. */
function nullIfMissing(error: unknown): null {
  const code = (error as { code?: string }).code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return null;
  throw error;
}
