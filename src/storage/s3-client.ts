import { S3Client } from '@aws-sdk/client-s3';
import type { S3Settings, SseSetting } from './storage-url.ts';

/** Builds the SDK client for one store. */
export function createS3Client(settings: S3Settings): S3Client {
  return new S3Client({
    region: settings.region,
    ...(settings.endpoint === undefined ? {} : { endpoint: settings.endpoint }),
    forcePathStyle: settings.forcePathStyle,
    ...(settings.credentials === undefined ? {} : { credentials: settings.credentials }),
    maxAttempts: settings.maxAttempts,
    requestChecksumCalculation: settings.requestChecksumCalculation,
    responseChecksumValidation: settings.responseChecksumValidation,
    // Without timeouts a stalled connection holds a part (and the whole backup) forever; with them
    // the SDK gets an error it can retry.
    requestHandler: { connectionTimeout: 15_000, socketTimeout: 120_000 },
  });
}

/** The request parameters that ask for server-side encryption. */
export function sseParams(sse: SseSetting | undefined): {
  ServerSideEncryption?: 'AES256' | 'aws:kms';
  SSEKMSKeyId?: string;
} {
  if (sse === undefined) return {};
  if (sse.algorithm === 'AES256') return { ServerSideEncryption: 'AES256' };
  return { ServerSideEncryption: 'aws:kms', ...(sse.kmsKeyId === undefined ? {} : { SSEKMSKeyId: sse.kmsKeyId }) };
}

/**
 * Why a response does not confirm the encryption we asked for, or null if it does. Stores that
 * ignore SSE headers (s3rver, some S3-compatible stores) answer without them, and must not be
 * mistaken for encrypted ones (WAL-G CVE-2021-38599 uploaded cleartext while configured to encrypt).
 * A KMS key given as an alias cannot be matched against the key ARN the store reports, so it fails
 * here too: configure the key id or ARN.
 */
export function encryptionProblem(
  sse: SseSetting | undefined,
  response: { ServerSideEncryption?: string | undefined; SSEKMSKeyId?: string | undefined },
): string | null {
  if (sse === undefined) return null;
  const answered = response.ServerSideEncryption;
  if (answered !== sse.algorithm) {
    return `requested server-side encryption ${sse.algorithm}, the store answered ${answered === undefined ? 'without any' : answered}`;
  }
  if (sse.algorithm === 'aws:kms' && sse.kmsKeyId !== undefined && !sameKmsKey(sse.kmsKeyId, response.SSEKMSKeyId)) {
    return `requested KMS key ${sse.kmsKeyId}, the store answered ${response.SSEKMSKeyId ?? 'without a key id'}`;
  }
  return null;
}

function sameKmsKey(configured: string, answered: string | undefined): boolean {
  if (answered === undefined) return false;
  return answered === configured || answered.endsWith(`:key/${configured}`);
}

/** Whether an SDK error means "no such key / upload" (404s come back under several names). */
export function isS3NotFound(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return (
    e?.name === 'NotFound' ||
    e?.name === 'NoSuchKey' ||
    e?.name === 'NoSuchUpload' ||
    e?.$metadata?.httpStatusCode === 404
  );
}

/** The store does not offer this operation (S3-compatible stores answer 501 NotImplemented or 405). */
export function isS3NotImplemented(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } } | null;
  return (
    e?.name === 'NotImplemented' ||
    e?.name === 'MethodNotAllowed' ||
    e?.$metadata?.httpStatusCode === 501 ||
    e?.$metadata?.httpStatusCode === 405
  );
}
