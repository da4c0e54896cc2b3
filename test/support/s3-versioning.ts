import { randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';

/**
 * S3 bucket versioning, emulated in front of s3rver (which has none), as far as our tests need it. It is
 * an external system's behaviour we copy, after the S3 API reference:
 * - PutBucketVersioning / GetBucketVersioning (`?versioning`, Status Enabled or Suspended);
 * - a write (PutObject, CompleteMultipartUpload, CopyObject) to a key of a versioned bucket keeps the
 *   object it replaces as a noncurrent version and answers the new one's `x-amz-version-id`;
 * - DeleteObject without a version id adds a delete marker (which becomes the latest version) and keeps
 *   the object as noncurrent; with a version id it removes that version for good (the next newest object
 *   version becomes current again); DeleteObjects (`POST ?delete`) does either per entry;
 * - ListObjectVersions (`GET ?versions`, prefix, key and version-id markers, max-keys): every object
 *   version and delete marker, by key and newest first. Objects written before versioning was enabled
 *   have the version id `null`, as on S3; on a bucket never versioned every object is listed so.
 * The current version of a key lives in s3rver's store; noncurrent versions and markers in memory (test
 * objects are small). Not emulated: GetObject/HeadObject of a given version, Suspended's null-version
 * overwrites, MFA delete, object lock.
 */

/** The parts of s3rver's FilesystemStore we use (s3rver 3.7.1, lib/stores/filesystem.js). */
export interface S3rverStore {
  getObject(bucket: string, key: string): Promise<{ content: Readable; metadata: Record<string, string> } | null>;
  getMetadata(bucket: string, key: string): Promise<Record<string, string>>;
  putObject(object: {
    bucket: string;
    key: string;
    content: Buffer;
    metadata: Record<string, string>;
  }): Promise<unknown>;
  deleteObject(bucket: string, key: string): Promise<void>;
  existsObject(bucket: string, key: string): Promise<boolean>;
  listObjects(bucket: string, options: { prefix: string }): Promise<{ objects: Array<{ key: string }> }>;
}

interface OldVersion {
  versionId: string;
  deleteMarker: boolean;
  lastModified: Date;
  content?: Buffer;
  metadata?: Record<string, string>;
}

interface ListedVersion {
  key: string;
  versionId: string;
  deleteMarker: boolean;
  latest: boolean;
  lastModified: Date;
  etag?: string;
  size?: number;
}

export interface DeleteOutcome {
  versionId: string;
  deleteMarker: boolean;
}

export class BucketVersioning {
  readonly #store: S3rverStore;
  readonly #status = new Map<string, 'Enabled' | 'Suspended'>();
  /** The version id of the object s3rver holds now, per `bucket/key` (absent: `null`, written unversioned). */
  readonly #current = new Map<string, string>();
  /** Noncurrent versions and delete markers per `bucket/key`, newest first. */
  readonly #older = new Map<string, OldVersion[]>();

  constructor(store: S3rverStore) {
    this.#store = store;
  }

  enabled(bucket: string): boolean {
    return this.#status.get(bucket) === 'Enabled';
  }

  setStatus(bucket: string, body: string): boolean {
    const status = /<Status>\s*(Enabled|Suspended)\s*<\/Status>/.exec(body)?.[1] as 'Enabled' | 'Suspended' | undefined;
    if (!status) return false;
    this.#status.set(bucket, status);
    return true;
  }

  statusXml(bucket: string): string {
    const status = this.#status.get(bucket);
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n<VersioningConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      (status ? `<Status>${status}</Status>` : '') +
      '</VersioningConfiguration>'
    );
  }

  /** Before a write to a versioned bucket: keeps the object it will replace. Returns nothing to undo. */
  async beforeWrite(bucket: string, key: string): Promise<void> {
    if (!this.enabled(bucket)) return;
    await this.#keepCurrent(bucket, key);
  }

  /** After a successful write: the new object's version id, to answer as `x-amz-version-id`. */
  async afterWrite(bucket: string, key: string): Promise<string | undefined> {
    if (!this.enabled(bucket) || !(await this.#store.existsObject(bucket, key))) return undefined;
    const versionId = newVersionId();
    this.#current.set(`${bucket}/${key}`, versionId);
    return versionId;
  }

  /** DeleteObject without a version id on a versioned bucket: the object becomes noncurrent behind a marker. */
  async addDeleteMarker(bucket: string, key: string): Promise<DeleteOutcome> {
    if (await this.#keepCurrent(bucket, key)) await this.#store.deleteObject(bucket, key);
    const versionId = newVersionId();
    this.#olderOf(bucket, key).unshift({ versionId, deleteMarker: true, lastModified: new Date() });
    return { versionId, deleteMarker: true };
  }

  /** Removes one version (object or marker) for good; removing what is not there succeeds. */
  async deleteVersion(bucket: string, key: string, versionId: string): Promise<DeleteOutcome> {
    const id = `${bucket}/${key}`;
    const older = this.#olderOf(bucket, key);
    // Which version is current comes from our own record: s3rver's putObject resolves before its file
    // is written, so asking whether the object exists just after a write can answer no.
    const current = this.#current.get(id) ?? ((await this.#store.existsObject(bucket, key)) ? 'null' : undefined);
    if (current === versionId) {
      await this.#store.deleteObject(bucket, key);
      this.#current.delete(id);
      await this.#promoteNewest(bucket, key);
      return { versionId, deleteMarker: false };
    }
    const index = older.findIndex((v) => v.versionId === versionId);
    if (index === -1) return { versionId, deleteMarker: false };
    const [removed] = older.splice(index, 1);
    if (index === 0 && removed!.deleteMarker && !(await this.#store.existsObject(bucket, key)))
      await this.#promoteNewest(bucket, key);
    if (older.length === 0) this.#older.delete(id);
    return { versionId, deleteMarker: removed!.deleteMarker };
  }

  /** Every version and marker under `prefix`, by key, newest first. */
  async list(bucket: string, prefix: string): Promise<ListedVersion[]> {
    const keys = new Set<string>();
    for (const object of (await this.#store.listObjects(bucket, { prefix })).objects) keys.add(object.key);
    for (const id of this.#older.keys()) {
      const key = id.slice(bucket.length + 1);
      if (id.startsWith(`${bucket}/`) && key.startsWith(prefix)) keys.add(key);
    }
    const listed: ListedVersion[] = [];
    for (const key of [...keys].sort()) {
      let latest = true;
      if (await this.#store.existsObject(bucket, key)) {
        const metadata = await this.#store.getMetadata(bucket, key);
        listed.push({
          key,
          versionId: this.#current.get(`${bucket}/${key}`) ?? 'null',
          deleteMarker: false,
          latest,
          lastModified: new Date(metadata['last-modified'] ?? 0),
          etag: metadata.etag ?? '',
          size: Number(metadata['content-length'] ?? 0),
        });
        latest = false;
      }
      for (const version of this.#older.get(`${bucket}/${key}`) ?? []) {
        listed.push({
          key,
          versionId: version.versionId,
          deleteMarker: version.deleteMarker,
          latest,
          lastModified: version.lastModified,
          ...(version.metadata ? { etag: version.metadata.etag ?? '', size: version.content?.length ?? 0 } : {}),
        });
        latest = false;
      }
    }
    return listed;
  }

  /** The ListObjectVersions answer for one page. */
  async listXml(bucket: string, query: Record<string, string | string[] | undefined>): Promise<string> {
    const param = (name: string): string => (typeof query[name] === 'string' ? query[name] : '');
    const prefix = param('prefix');
    const keyMarker = param('key-marker');
    const versionIdMarker = param('version-id-marker');
    const maxKeys = Math.min(1000, Number(param('max-keys') || 1000));
    let all = await this.list(bucket, prefix);
    if (keyMarker) {
      // After the marker: past the named version of the key, or past the key altogether.
      const at = versionIdMarker ? all.findIndex((v) => v.key === keyMarker && v.versionId === versionIdMarker) : -1;
      all = at === -1 ? all.filter((v) => v.key > keyMarker) : all.slice(at + 1);
    }
    const page = all.slice(0, maxKeys);
    const truncated = all.length > page.length;
    const last = page.at(-1);
    const entries = page.map((v) =>
      v.deleteMarker
        ? `<DeleteMarker><Key>${xml(v.key)}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${v.latest}</IsLatest>` +
          `<LastModified>${v.lastModified.toISOString()}</LastModified></DeleteMarker>`
        : `<Version><Key>${xml(v.key)}</Key><VersionId>${v.versionId}</VersionId><IsLatest>${v.latest}</IsLatest>` +
          `<LastModified>${v.lastModified.toISOString()}</LastModified><ETag>${xml(v.etag ?? '')}</ETag>` +
          `<Size>${v.size ?? 0}</Size><StorageClass>STANDARD</StorageClass></Version>`,
    );
    return (
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListVersionsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>${xml(bucket)}</Name><Prefix>${xml(prefix)}</Prefix><KeyMarker>${xml(keyMarker)}</KeyMarker>` +
      `<VersionIdMarker>${xml(versionIdMarker)}</VersionIdMarker><MaxKeys>${maxKeys}</MaxKeys>` +
      `<IsTruncated>${truncated}</IsTruncated>` +
      (truncated && last
        ? `<NextKeyMarker>${xml(last.key)}</NextKeyMarker><NextVersionIdMarker>${last.versionId}</NextVersionIdMarker>`
        : '') +
      entries.join('') +
      '</ListVersionsResult>'
    );
  }

  /** Copies the object s3rver holds now (if any) into the noncurrent versions; false when there is none. */
  async #keepCurrent(bucket: string, key: string): Promise<boolean> {
    const object = await this.#store.getObject(bucket, key);
    if (!object) return false;
    const chunks: Buffer[] = [];
    for await (const chunk of object.content) chunks.push(chunk as Buffer);
    const id = `${bucket}/${key}`;
    this.#olderOf(bucket, key).unshift({
      versionId: this.#current.get(id) ?? 'null',
      deleteMarker: false,
      lastModified: new Date(object.metadata['last-modified'] ?? 0),
      content: Buffer.concat(chunks),
      metadata: object.metadata,
    });
    this.#current.delete(id);
    return true;
  }

  /** With no current object: the newest noncurrent version, if it is an object, becomes current again. */
  async #promoteNewest(bucket: string, key: string): Promise<void> {
    const older = this.#olderOf(bucket, key);
    const newest = older[0];
    if (!newest || newest.deleteMarker) return;
    older.shift();
    await this.#store.putObject({ bucket, key, content: newest.content!, metadata: newest.metadata! });
    this.#current.set(`${bucket}/${key}`, newest.versionId);
    // s3rver answers before its file exists; a delete right after must find it (or it comes back later).
    for (let i = 0; i < 200 && !(await this.#store.existsObject(bucket, key)); i++)
      await new Promise((resolve) => setTimeout(resolve, 5));
  }

  #olderOf(bucket: string, key: string): OldVersion[] {
    const id = `${bucket}/${key}`;
    let older = this.#older.get(id);
    if (!older) this.#older.set(id, (older = []));
    return older;
  }
}

/** The entries of a DeleteObjects request body. */
export function deleteObjectsEntries(body: string): Array<{ key: string; versionId?: string }> {
  return [...body.matchAll(/<Object>([\s\S]*?)<\/Object>/g)].map((match) => {
    const inner = match[1] ?? '';
    const key = unxml(/<Key>([\s\S]*?)<\/Key>/.exec(inner)?.[1] ?? '');
    const versionId = /<VersionId>([\s\S]*?)<\/VersionId>/.exec(inner)?.[1];
    return versionId === undefined ? { key } : { key, versionId };
  });
}

/** The DeleteObjects answer: every entry deleted (quiet mode lists none). */
export function deleteResultXml(
  deleted: Array<{ key: string; requested?: string; outcome: DeleteOutcome }>,
  quiet: boolean,
): string {
  const entries = quiet
    ? []
    : deleted.map(
        ({ key, requested, outcome }) =>
          `<Deleted><Key>${xml(key)}</Key>` +
          (requested !== undefined ? `<VersionId>${requested}</VersionId>` : '') +
          (outcome.deleteMarker
            ? `<DeleteMarker>true</DeleteMarker><DeleteMarkerVersionId>${outcome.versionId}</DeleteMarkerVersionId>`
            : '') +
          '</Deleted>',
      );
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    entries.join('') +
    '</DeleteResult>'
  );
}

function newVersionId(): string {
  return randomBytes(16).toString('base64url');
}

function xml(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function unxml(value: string): string {
  return value
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&');
}
