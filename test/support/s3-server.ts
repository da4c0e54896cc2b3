import { S3Client } from '@aws-sdk/client-s3';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync } from 'node:fs';
import { readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';

/**
 * An S3-protocol server on loopback for the storage tests: s3rver 3.7.1 plus one Koa middleware,
 * placed in front of s3rver's own, that
 * - adds the three multipart routes s3rver lacks, over its upload folder: AbortMultipartUpload
 *   (s3rver answers 405), ListMultipartUploads and UploadPartCopy (NotImplemented);
 * - answers NoSuchUpload / InvalidPart instead of letting s3rver crash on a CompleteMultipartUpload
 *   that names an unknown upload or part, or resurrect an aborted upload on a late UploadPart;
 * - can echo server-side-encryption headers like AWS does (s3rver ignores them);
 * - injects faults (see S3Faults) and records every request for assertions.
 */
export interface TestS3Server {
  readonly endpoint: string;
  readonly bucket: string;
  /** Credentials and endpoint as AWS variables, for `openObjectStore(url, env)`. */
  readonly env: Record<string, string>;
  /** Faults and behaviour for the next requests; change them freely between tests. */
  faults: S3Faults;
  /** Every request since the last reset, in arrival order. */
  readonly requests: RecordedRequest[];
  /** A storage URL for this server: `s3://<bucket>/<prefix>?endpoint=…&checksum=when_required&…`. */
  url(prefix: string, options?: Record<string, string>): string;
  /** A plain SDK client for looking behind the store's back. */
  client(): S3Client;
  /** Clears faults and the request log. */
  reset(): void;
  close(): Promise<void>;
}

export interface S3Faults {
  /** UploadPart with this part number always answers 500 InternalError. */
  failUploadPart?: number;
  /** UploadPartCopy with this part number always answers 500 InternalError. */
  failUploadPartCopy?: number;
  /** GetObject of a key ending so answers 500 InternalError (HeadObject still works)... */
  failGetObjectOf?: string;
  /** ...this many times (every time when absent). */
  failGetObjectTimes?: number;
  /** After a successful CompleteMultipartUpload, delete the object or cut its last byte off. */
  afterComplete?: 'delete' | 'truncate';
  /** CompleteMultipartUpload answers 200 with an error document, completing nothing. */
  completeAnswersErrorIn200?: boolean;
  /** A PutObject of a key ending in `.manifest.json` answers 200 but keeps nothing: the digest goes missing. */
  dropManifests?: boolean;
  /** Store and echo `x-amz-server-side-encryption*` headers like AWS (plain s3rver ignores them). */
  honourSse?: boolean;
  /** With honourSse: answer with this KMS key id instead of the requested one. */
  answerKmsKeyId?: string;
}

export interface RecordedRequest {
  operation: string;
  key: string;
  partNumber?: number;
  status?: number;
  /** The request's x-amz-checksum-crc32 header (flexible checksums), when it had one. */
  checksumCrc32?: string;
  /** UploadPart: the body's declared length; UploadPartCopy: the bytes copied. */
  bytes?: number;
  /** UploadPartCopy: the source key (without bucket) and its x-amz-copy-source-range. */
  copySource?: string;
  copySourceRange?: string;
}

type QueryValue = string | string[] | undefined;
interface KoaContext {
  method: string;
  path: string;
  query: Record<string, QueryValue>;
  headers: Record<string, string | string[] | undefined>;
  req: IncomingMessage | Readable;
  status: number;
  body: unknown;
  type: string;
  set(name: string, value: string): void;
}
type Middleware = (ctx: KoaContext, next: () => Promise<void>) => Promise<void>;
interface S3rverInstance {
  middleware: Middleware[];
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
type S3rverConstructor = new (options: Record<string, unknown>) => S3rverInstance;

const SSE_HEADERS = ['x-amz-server-side-encryption', 'x-amz-server-side-encryption-aws-kms-key-id'] as const;

export async function startS3Server(bucket = 'big-backup-test'): Promise<TestS3Server> {
  const S3rver = createRequire(import.meta.url)('s3rver') as S3rverConstructor;
  const directory = mkdtempSync(path.join(os.tmpdir(), 'bb-s3rver-'));
  const requests: RecordedRequest[] = [];
  const encryption = new Map<string, Record<string, string>>();
  const state = { faults: {} as S3Faults };
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket }],
  });
  server.middleware.unshift(testMiddleware(directory, requests, encryption, state));
  const address = await server.run();
  const endpoint = `http://127.0.0.1:${address.port}`;
  const env = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER', AWS_REGION: 'us-east-1' };
  const clients: S3Client[] = [];
  return {
    endpoint,
    bucket,
    env,
    get faults() {
      return state.faults;
    },
    set faults(value: S3Faults) {
      state.faults = value;
    },
    requests,
    url: (prefix, options = {}) => storageUrl(endpoint, bucket, prefix, options),
    client() {
      const client = new S3Client({
        region: 'us-east-1',
        endpoint,
        forcePathStyle: true,
        credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
        requestChecksumCalculation: 'WHEN_REQUIRED',
        responseChecksumValidation: 'WHEN_REQUIRED',
      });
      clients.push(client);
      return client;
    },
    reset() {
      state.faults = {};
      requests.length = 0;
    },
    async close() {
      for (const client of clients) client.destroy();
      await server.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}

/** The same server in a child process: for measuring the memory of the client side alone. */
export type S3ServerProcess = Pick<TestS3Server, 'endpoint' | 'bucket' | 'env' | 'url' | 'close'> & {
  /** The server process (the benchmark reads its CPU time). */
  readonly pid: number;
};

export async function startS3ServerProcess(): Promise<S3ServerProcess> {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const [line] = (await Promise.race([
    once(createInterface({ input: child.stdout }), 'line'),
    once(child, 'exit'),
  ])) as [unknown];
  if (typeof line !== 'string')
    throw new Error(`the S3 test server process exited with ${String(line)} before it listened`);
  const { endpoint, bucket, env } = JSON.parse(line) as {
    endpoint: string;
    bucket: string;
    env: Record<string, string>;
  };
  return {
    endpoint,
    bucket,
    env,
    pid: child.pid!,
    url: (prefix, options = {}) => storageUrl(endpoint, bucket, prefix, options),
    async close() {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

function storageUrl(endpoint: string, bucket: string, prefix: string, options: Record<string, string>): string {
  const query = new URLSearchParams({ endpoint, checksum: 'when_required', ...options });
  return `s3://${bucket}/${prefix}?${query.toString()}`;
}

if (process.argv[1] === fileURLToPath(import.meta.url) && process.argv.includes('--serve')) {
  const server = await startS3Server();
  process.once('SIGTERM', () => {
    void server.close().finally(() => process.exit(0));
  });
  process.stdout.write(JSON.stringify({ endpoint: server.endpoint, bucket: server.bucket, env: server.env }) + '\n');
}

function testMiddleware(
  directory: string,
  requests: RecordedRequest[],
  encryption: Map<string, Record<string, string>>,
  state: { faults: S3Faults },
): Middleware {
  return async (ctx, next) => {
    const [bucket = '', ...rest] = ctx.path.split('/').slice(1).map(decodeURIComponent);
    const key = rest.join('/');
    const operation = classify(ctx, key);
    const partNumber =
      operation === 'UploadPart' || operation === 'UploadPartCopy' ? Number(ctx.query.partNumber) : undefined;
    const crc32 = ctx.headers['x-amz-checksum-crc32'];
    const length = ctx.headers['content-length'];
    const record: RecordedRequest = {
      operation,
      key,
      ...(partNumber === undefined ? {} : { partNumber }),
      ...(typeof crc32 === 'string' ? { checksumCrc32: crc32 } : {}),
      ...(operation === 'UploadPart' && typeof length === 'string' ? { bytes: Number(length) } : {}),
    };
    requests.push(record);
    const uploadsDir = path.join(directory, bucket, '._S3rver_uploads');
    const uploadId = typeof ctx.query.uploadId === 'string' ? ctx.query.uploadId : '';
    const faults = state.faults;
    try {
      switch (operation) {
        case 'ListMultipartUploads':
          return await listUploads(ctx, bucket, uploadsDir);
        case 'AbortMultipartUpload':
          return await abortUpload(ctx, uploadsDir, uploadId, key);
        case 'UploadPart':
          if (!(await uploadExists(uploadsDir, uploadId, key))) return await drainThenError(ctx, 404, 'NoSuchUpload');
          if (faults.failUploadPart === partNumber) return await drainThenError(ctx, 500, 'InternalError');
          return await next();
        case 'UploadPartCopy':
          if (faults.failUploadPartCopy === partNumber) return errorResponse(ctx, 500, 'InternalError');
          return await uploadPartCopy(ctx, { directory, uploadsDir, uploadId, key, partNumber: partNumber!, record });
        case 'CompleteMultipartUpload':
          return await complete(ctx, next, { directory, bucket, key, uploadsDir, uploadId, faults, encryption });
        case 'PutObject':
          if (faults.dropManifests && key.endsWith('.manifest.json')) return await drainThenAnswer(ctx, 200);
          await next();
          if (faults.honourSse && ctx.status === 200) rememberSse(ctx, encryption, `${bucket}/${key}`, faults);
          return;
        case 'CreateMultipartUpload':
        case 'CopyObject':
          await next();
          if (faults.honourSse && ctx.status === 200) rememberSse(ctx, encryption, `${bucket}/${key}`, faults);
          return;
        case 'HeadObject':
        case 'GetObject':
          if (
            operation === 'GetObject' &&
            faults.failGetObjectOf !== undefined &&
            key.endsWith(faults.failGetObjectOf) &&
            (faults.failGetObjectTimes ?? 1) > 0
          ) {
            if (faults.failGetObjectTimes !== undefined) faults.failGetObjectTimes -= 1;
            return errorResponse(ctx, 500, 'InternalError');
          }
          await next();
          if (ctx.status === 200 || ctx.status === 206) echoSse(ctx, encryption.get(`${bucket}/${key}`));
          return;
        case 'DeleteObject':
          encryption.delete(`${bucket}/${key}`);
          return await next();
        default:
          return await next();
      }
    } finally {
      record.status = ctx.status;
    }
  };
}

function classify(ctx: KoaContext, key: string): string {
  const has = (name: string): boolean => name in ctx.query;
  if (key === '') {
    if (ctx.method === 'GET' && has('uploads')) return 'ListMultipartUploads';
    return `${ctx.method} bucket`;
  }
  switch (ctx.method) {
    case 'POST':
      return has('uploads') ? 'CreateMultipartUpload' : has('uploadId') ? 'CompleteMultipartUpload' : 'POST object';
    case 'PUT':
      if (has('uploadId')) return 'x-amz-copy-source' in ctx.headers ? 'UploadPartCopy' : 'UploadPart';
      return 'x-amz-copy-source' in ctx.headers ? 'CopyObject' : has('tagging') ? 'PutObjectTagging' : 'PutObject';
    case 'DELETE':
      return has('uploadId') ? 'AbortMultipartUpload' : 'DeleteObject';
    case 'HEAD':
      return 'HeadObject';
    case 'GET':
      return 'GetObject';
    default:
      return `${ctx.method} object`;
  }
}

async function listUploads(ctx: KoaContext, bucket: string, uploadsDir: string): Promise<void> {
  const prefix = typeof ctx.query.prefix === 'string' ? ctx.query.prefix : '';
  const uploads: string[] = [];
  for (const id of (await readdir(uploadsDir).catch(() => [])).sort()) {
    const key = await readFile(path.join(uploadsDir, id, 'key'), 'utf8').catch(() => null);
    if (key === null || !key.startsWith(prefix)) continue;
    const initiated = (await stat(path.join(uploadsDir, id))).birthtime.toISOString();
    uploads.push(
      `<Upload><Key>${xml(key)}</Key><UploadId>${id}</UploadId><Initiated>${initiated}</Initiated><StorageClass>STANDARD</StorageClass></Upload>`,
    );
  }
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<ListMultipartUploadsResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<Bucket>${xml(bucket)}</Bucket><Prefix>${xml(prefix)}</Prefix><KeyMarker></KeyMarker><UploadIdMarker></UploadIdMarker>` +
    `<MaxUploads>1000</MaxUploads><IsTruncated>false</IsTruncated>${uploads.join('')}</ListMultipartUploadsResult>`;
}

async function abortUpload(ctx: KoaContext, uploadsDir: string, uploadId: string, key: string): Promise<void> {
  if (!(await uploadExists(uploadsDir, uploadId, key))) return errorResponse(ctx, 404, 'NoSuchUpload');
  await rm(path.join(uploadsDir, uploadId), { recursive: true, force: true });
  ctx.status = 204;
  ctx.body = null;
}

interface CompleteContext {
  directory: string;
  bucket: string;
  key: string;
  uploadsDir: string;
  uploadId: string;
  faults: S3Faults;
  encryption: Map<string, Record<string, string>>;
}

async function complete(ctx: KoaContext, next: () => Promise<void>, c: CompleteContext): Promise<void> {
  const body = await readBody(ctx.req);
  if (!(await uploadExists(c.uploadsDir, c.uploadId, c.key))) return errorResponse(ctx, 404, 'NoSuchUpload');
  for (const match of body.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)) {
    const part = await stat(path.join(c.uploadsDir, c.uploadId, match[1] ?? '')).catch(() => null);
    if (part === null) return errorResponse(ctx, 400, 'InvalidPart');
  }
  if (c.faults.completeAnswersErrorIn200) return errorResponse(ctx, 200, 'InternalError');
  const sse = c.faults.honourSse ? answeredSse(await uploadSse(c.uploadsDir, c.uploadId), c.faults) : undefined;
  ctx.req = Readable.from([Buffer.from(body)]); // s3rver parses the body again
  await next();
  if (ctx.status !== 200) return;
  if (sse !== undefined) {
    c.encryption.set(`${c.bucket}/${c.key}`, sse);
    echoSse(ctx, sse);
  }
  const segments = c.key.split('/');
  const object = path.join(c.directory, c.bucket, ...segments.slice(0, -1), `${segments.at(-1)}._S3rver_object`);
  if (c.faults.afterComplete === 'delete') await rm(object, { force: true });
  if (c.faults.afterComplete === 'truncate') await truncate(object, Math.max(0, (await stat(object)).size - 1));
}

/**
 * UploadPartCopy as S3 does it: the part is `x-amz-copy-source` (`bucket/key`, URL-encoded, optional
 * leading slash), whole or the inclusive `x-amz-copy-source-range: bytes=first-last`; the answer is a
 * CopyPartResult with the part's ETag and LastModified. NoSuchUpload, NoSuchKey, and InvalidArgument
 * for a malformed range, one outside the source, a part number outside 1-10,000 or a part over 5 GiB.
 */
async function uploadPartCopy(
  ctx: KoaContext,
  c: {
    directory: string;
    uploadsDir: string;
    uploadId: string;
    key: string;
    partNumber: number;
    record: RecordedRequest;
  },
): Promise<void> {
  if (!(await uploadExists(c.uploadsDir, c.uploadId, c.key))) return errorResponse(ctx, 404, 'NoSuchUpload');
  if (!Number.isInteger(c.partNumber) || c.partNumber < 1 || c.partNumber > 10_000)
    return errorResponse(ctx, 400, 'InvalidArgument');
  const header = String(ctx.headers['x-amz-copy-source']);
  const source = decodeURIComponent(header.split('?')[0]!).replace(/^\//, '');
  const slash = source.indexOf('/');
  const [sourceBucket, sourceKey] = [source.slice(0, slash), source.slice(slash + 1)];
  c.record.copySource = sourceKey;
  const FilesystemStore = createRequire(import.meta.url)('s3rver/lib/stores/filesystem.js') as {
    encodeKeyPath(key: string): string;
  };
  const segments = FilesystemStore.encodeKeyPath(sourceKey).split('/');
  const file = path.join(c.directory, sourceBucket, ...segments.slice(0, -1), `${segments.at(-1)}._S3rver_object`);
  const stats = slash > 0 ? await stat(file).catch(() => null) : null;
  if (stats === null) return errorResponse(ctx, 404, 'NoSuchKey');
  let start = 0;
  let end = stats.size - 1;
  const rangeHeader = ctx.headers['x-amz-copy-source-range'];
  if (rangeHeader !== undefined) {
    c.record.copySourceRange = String(rangeHeader);
    const match = /^bytes=(\d+)-(\d+)$/.exec(String(rangeHeader));
    if (!match) return errorResponse(ctx, 400, 'InvalidArgument');
    [start, end] = [Number(match[1]), Number(match[2])];
    if (start > end || end >= stats.size) return errorResponse(ctx, 400, 'InvalidArgument');
  }
  if (end - start + 1 > 5 * 1024 * 1024 * 1024) return errorResponse(ctx, 400, 'InvalidArgument');
  const part = path.join(c.uploadsDir, c.uploadId, String(c.partNumber));
  const hash = createHash('md5');
  await pipeline(
    createReadStream(file, { start, end }),
    async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        hash.update(chunk);
        yield chunk;
      }
    },
    createWriteStream(part),
  );
  const md5 = hash.digest('hex');
  await writeFile(`${part}.md5`, md5);
  c.record.bytes = end - start + 1;
  ctx.status = 200;
  ctx.type = 'application/xml';
  ctx.body =
    '<?xml version="1.0" encoding="UTF-8"?>\n<CopyPartResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
    `<LastModified>${new Date().toISOString()}</LastModified><ETag>"${md5}"</ETag></CopyPartResult>`;
}

async function uploadExists(uploadsDir: string, uploadId: string, key: string): Promise<boolean> {
  if (!/^[0-9a-f]+$/.test(uploadId)) return false;
  const stored = await readFile(path.join(uploadsDir, uploadId, 'key'), 'utf8').catch(() => null);
  return stored === key;
}

/** The SSE headers CreateMultipartUpload carried; s3rver keeps that request's headers as the upload's metadata. */
async function uploadSse(uploadsDir: string, uploadId: string): Promise<Record<string, string>> {
  const headers = JSON.parse(await readFile(path.join(uploadsDir, uploadId, 'metadata'), 'utf8')) as Record<
    string,
    string
  >;
  return Object.fromEntries(
    SSE_HEADERS.filter((name) => headers[name] !== undefined).map((name) => [name, headers[name]!]),
  );
}

function rememberSse(
  ctx: KoaContext,
  encryption: Map<string, Record<string, string>>,
  id: string,
  faults: S3Faults,
): void {
  const requested = Object.fromEntries(
    SSE_HEADERS.filter((name) => typeof ctx.headers[name] === 'string').map((name) => [
      name,
      ctx.headers[name] as string,
    ]),
  );
  if (Object.keys(requested).length === 0) return;
  const sse = answeredSse(requested, faults);
  if (!('uploads' in ctx.query)) encryption.set(id, sse);
  echoSse(ctx, sse);
}

function answeredSse(requested: Record<string, string>, faults: S3Faults): Record<string, string> {
  if (faults.answerKmsKeyId === undefined || requested['x-amz-server-side-encryption'] !== 'aws:kms') return requested;
  return { ...requested, 'x-amz-server-side-encryption-aws-kms-key-id': faults.answerKmsKeyId };
}

function echoSse(ctx: KoaContext, sse: Record<string, string> | undefined): void {
  for (const [name, value] of Object.entries(sse ?? {})) ctx.set(name, value);
}

async function drainThenError(ctx: KoaContext, status: number, code: string): Promise<void> {
  // Read the body first, so the client sees a clean error response instead of a reset socket.
  for await (const _ of ctx.req) {
    /* discard */
  }
  errorResponse(ctx, status, code);
}

/** Reads the body, keeps none of it, and answers success as if it had been stored. */
async function drainThenAnswer(ctx: KoaContext, status: number): Promise<void> {
  for await (const _ of ctx.req) {
    /* discard */
  }
  ctx.status = status;
  ctx.set('ETag', '"d41d8cd98f00b204e9800998ecf8427e"');
  ctx.body = '';
}

function errorResponse(ctx: KoaContext, status: number, code: string): void {
  ctx.status = status;
  ctx.type = 'application/xml';
  ctx.body = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${code}</Code><Message>injected by the test server</Message></Error>`;
}

async function readBody(req: Readable): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
