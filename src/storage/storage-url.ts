import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { storageFailed } from './errors.ts';
import type { BackupFailure } from '../shared/backup-failure.ts';
import { assertValidPrefix } from './keys.ts';
import { DEFAULT_PART_SIZE_FLOOR, GiB, MiB, S3_MAX_PARTS, S3_MAX_PART_SIZE, S3_MIN_PART_SIZE } from './part-plan.ts';

/** Server-side encryption to request, and to insist on (fail closed). */
export type SseSetting = { algorithm: 'AES256' } | { algorithm: 'aws:kms'; kmsKeyId?: string };
export type ChecksumMode = 'WHEN_SUPPORTED' | 'WHEN_REQUIRED';

export interface S3Settings {
  bucket: string;
  /** Prefix every key is stored under, without slashes at either end; may be empty. */
  prefix: string;
  region: string;
  endpoint?: string;
  forcePathStyle: boolean;
  /** Absent: the SDK's default chain (instance or task role, web identity). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  sse?: SseSetting;
  requestChecksumCalculation: ChecksumMode;
  responseChecksumValidation: ChecksumMode;
  maxParts: number;
  partSizeFloor: number;
  queueSize: number;
  maxAttempts: number;
}

export type StorageConfig =
  { kind: 's3'; location: string; settings: S3Settings } | { kind: 'file'; location: string; root: string };

/** The environment variables read here; everything else in `env` is ignored. */
export type StorageEnv = Readonly<Record<string, string | undefined>>;

const byteSize = z
  .string()
  .regex(/^\d+(?:\s*(?:B|KiB|MiB|GiB))?$/i, 'expected bytes, or a number with KiB, MiB or GiB')
  .transform((text) => {
    const match = /^(\d+)\s*([a-z]*)$/i.exec(text);
    const unit = (match?.[2] ?? '').toLowerCase();
    const factor = unit === 'gib' ? GiB : unit === 'mib' ? MiB : unit === 'kib' ? 1024 : 1;
    return Number(match?.[1]) * factor;
  })
  .pipe(
    z.number().int().min(S3_MIN_PART_SIZE, 'must be at least 5 MiB').max(S3_MAX_PART_SIZE, 'must be at most 5 GiB'),
  );

const checksum = z.enum(['when_supported', 'when_required']).transform((mode) => mode.toUpperCase() as ChecksumMode);

/** Options in the query string of an `s3://` URL. Unknown names are errors, so a typo cannot go unnoticed. */
const s3Query = z
  .object({
    region: z
      .string()
      .regex(/^[a-z0-9-]+$/, 'expected a region name such as eu-west-1')
      .optional(),
    endpoint: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
    path_style: z.stringbool().optional(),
    sse: z.enum(['AES256', 'aws:kms']).optional(),
    sse_kms_key_id: z
      .string()
      .regex(/^[\w:/+=,.@-]{1,2048}$/, 'expected a KMS key id or ARN')
      .optional(),
    checksum: checksum.optional(),
    max_parts: z.coerce.number().int().min(1).max(S3_MAX_PARTS).optional(),
    part_size: byteSize.optional(),
    queue_size: z.coerce.number().int().min(1).max(16).optional(),
    max_attempts: z.coerce.number().int().min(1).max(20).optional(),
  })
  .strict()
  .refine((q) => q.sse_kms_key_id === undefined || q.sse === 'aws:kms', {
    message: 'sse_kms_key_id needs sse=aws:kms',
    path: ['sse_kms_key_id'],
  });

const s3Env = z
  .object({
    AWS_ACCESS_KEY_ID: z.string().min(1).optional(),
    AWS_SECRET_ACCESS_KEY: z.string().min(1).optional(),
    AWS_SESSION_TOKEN: z.string().min(1).optional(),
    AWS_REGION: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .optional(),
    AWS_DEFAULT_REGION: z
      .string()
      .regex(/^[a-z0-9-]+$/)
      .optional(),
    AWS_ENDPOINT_URL_S3: z.url({ protocol: /^https?$/ }).optional(),
    AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/ }).optional(),
    AWS_REQUEST_CHECKSUM_CALCULATION: z.string().toLowerCase().pipe(checksum).optional(),
    AWS_RESPONSE_CHECKSUM_VALIDATION: z.string().toLowerCase().pipe(checksum).optional(),
  })
  .refine((e) => (e.AWS_ACCESS_KEY_ID === undefined) === (e.AWS_SECRET_ACCESS_KEY === undefined), {
    message: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together',
  });

const BUCKET = /^(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/;

/**
 * Parses a storage URL:
 * - `file:///absolute/path` — a local folder (the embedded default);
 * - `s3://bucket[/prefix][?options]` — S3 or a compatible store. Options: `region`, `endpoint`,
 *   `path_style`, `sse` (`AES256` | `aws:kms`), `sse_kms_key_id`, `checksum` (`when_supported` |
 *   `when_required`), `max_parts` (default 10000), `part_size` (smallest part, default 16MiB),
 *   `queue_size` (parts in flight, default 4), `max_attempts` (per request, default 5).
 *   Credentials, region and endpoint also come from the usual AWS variables in `env`; options in
 *   the URL win. Credentials in the URL itself are refused.
 * Throws `invalid_config` with every problem listed.
 */
export function parseStorageUrl(url: string, env: StorageEnv): StorageConfig {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw storageFailed('invalid_config', 'the storage URL is not a URL; expected s3://bucket/prefix or file:///path');
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw storageFailed(
      'invalid_config',
      'the storage URL must not contain credentials; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY instead',
    );
  }
  if (parsed.protocol === 'file:') return parseFileUrl(parsed);
  if (parsed.protocol === 's3:') return parseS3Url(parsed, env);
  throw storageFailed('invalid_config', `unsupported storage URL scheme "${parsed.protocol}"; expected s3: or file:`);
}

function parseFileUrl(url: URL): StorageConfig {
  const shown = `file://${url.host}${url.pathname}`;
  if (url.search !== '' || url.hash !== '') throw invalid(shown, ['file: URLs take no options']);
  if (url.host !== '' && url.host !== 'localhost')
    throw invalid(shown, ['only local paths (file:///path) are supported']);
  let root: string;
  try {
    root = fileURLToPath(url);
  } catch (error) {
    throw invalid(shown, [(error as Error).message]);
  }
  root = path.resolve(root);
  if (root === path.parse(root).root) throw invalid(shown, ['the filesystem root cannot be the storage folder']);
  return { kind: 'file', location: `file://${root}`, root };
}

function parseS3Url(url: URL, env: StorageEnv): StorageConfig {
  const bucket = url.hostname;
  const prefix = decodeURIComponent(url.pathname).replace(/^\/+/, '').replace(/\/+$/, '');
  const location = `s3://${bucket}${prefix === '' ? '' : '/' + prefix}`;
  const problems: string[] = [];
  if (!BUCKET.test(bucket))
    problems.push(`"${bucket}" is not a valid bucket name (3–63 lower-case letters, digits, "." and "-")`);
  if (url.port !== '') problems.push('put the port in the endpoint option, not after the bucket');
  if (prefix !== '') {
    try {
      assertValidPrefix(prefix + '/');
    } catch (error) {
      problems.push(`prefix: ${(error as Error).message}`);
    }
  }
  const params = new Map<string, string>();
  for (const [name, value] of url.searchParams) {
    if (params.has(name)) problems.push(`option "${name}" is given twice`);
    params.set(name, value);
  }
  const query = s3Query.safeParse(Object.fromEntries(params));
  if (!query.success) problems.push(...issues(query.error));
  const vars = s3Env.safeParse(pickEnv(env));
  if (!vars.success) problems.push(...issues(vars.error));
  if (problems.length > 0 || !query.success || !vars.success) throw invalid(location, problems);

  const q = query.data;
  const e = vars.data;
  const endpoint = q.endpoint ?? e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL;
  const settings: S3Settings = {
    bucket,
    prefix,
    region: q.region ?? e.AWS_REGION ?? e.AWS_DEFAULT_REGION ?? 'us-east-1',
    ...(endpoint === undefined ? {} : { endpoint }),
    // Custom endpoints (MinIO, s3rver, most S3-compatible stores) expect path-style addressing.
    forcePathStyle: q.path_style ?? endpoint !== undefined,
    ...(e.AWS_ACCESS_KEY_ID !== undefined && e.AWS_SECRET_ACCESS_KEY !== undefined
      ? {
          credentials: {
            accessKeyId: e.AWS_ACCESS_KEY_ID,
            secretAccessKey: e.AWS_SECRET_ACCESS_KEY,
            ...(e.AWS_SESSION_TOKEN === undefined ? {} : { sessionToken: e.AWS_SESSION_TOKEN }),
          },
        }
      : {}),
    ...(q.sse === undefined
      ? {}
      : {
          sse:
            q.sse === 'AES256'
              ? { algorithm: 'AES256' as const }
              : {
                  algorithm: 'aws:kms' as const,
                  ...(q.sse_kms_key_id === undefined ? {} : { kmsKeyId: q.sse_kms_key_id }),
                },
        }),
    requestChecksumCalculation: q.checksum ?? e.AWS_REQUEST_CHECKSUM_CALCULATION ?? 'WHEN_SUPPORTED',
    responseChecksumValidation: q.checksum ?? e.AWS_RESPONSE_CHECKSUM_VALIDATION ?? 'WHEN_SUPPORTED',
    maxParts: q.max_parts ?? S3_MAX_PARTS,
    partSizeFloor: q.part_size ?? DEFAULT_PART_SIZE_FLOOR,
    queueSize: q.queue_size ?? 4,
    // A terabyte is 10,000 parts; the SDK's default of 3 attempts lets one bad minute sink hours of work.
    maxAttempts: q.max_attempts ?? 5,
  };
  return { kind: 's3', location, settings };
}

function pickEnv(env: StorageEnv): Record<string, string> {
  const picked: Record<string, string> = {};
  for (const name of Object.keys(s3Env.shape)) {
    const value = env[name];
    if (value !== undefined && value !== '') picked[name] = value;
  }
  return picked;
}

function issues(error: z.ZodError): string[] {
  return error.issues.map((issue) => {
    const where = issue.path.length > 0 ? `${issue.path.join('.')}: ` : '';
    if (issue.code === 'unrecognized_keys') return `unknown option ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
    // Never echo values: an environment variable here may be a secret.
    return `${where}${issue.message}`;
  });
}

function invalid(location: string, problems: string[]): BackupFailure {
  return storageFailed('invalid_config', `invalid storage URL ${location}: ${problems.join('; ')}`);
}
