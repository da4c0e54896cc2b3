import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { isStorageFailure, storageCode } from '../../src/storage/errors.ts';
import { MiB } from '../../src/storage/part-plan.ts';
import { parseStorageUrl, type StorageConfig } from '../../src/storage/storage-url.ts';

const AWS = { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE', AWS_SECRET_ACCESS_KEY: 'very-secret-value', AWS_REGION: 'eu-west-1' };

function s3(url: string, env: Record<string, string | undefined> = AWS) {
  const config: StorageConfig = parseStorageUrl(url, env);
  assert.equal(config.kind, 's3');
  return config.kind === 's3' ? config : assert.fail('not s3');
}

function problem(url: string, env: Record<string, string | undefined> = AWS): string {
  try {
    parseStorageUrl(url, env);
  } catch (error) {
    assert.ok(isStorageFailure(error));
    assert.equal(storageCode(error), 'invalid_config');
    assert.equal(error.retryable, false);
    return error.message;
  }
  return assert.fail(`${url} was accepted`);
}

describe('parseStorageUrl', () => {
  test('reads an S3 URL with defaults and credentials from the environment', () => {
    const { location, settings } = s3('s3://acme-backups/prod/big-backup/');
    assert.equal(location, 's3://acme-backups/prod/big-backup');
    assert.deepEqual(settings, {
      bucket: 'acme-backups',
      prefix: 'prod/big-backup',
      region: 'eu-west-1',
      forcePathStyle: false,
      credentials: { accessKeyId: 'AKIAEXAMPLE', secretAccessKey: 'very-secret-value' },
      requestChecksumCalculation: 'WHEN_SUPPORTED',
      responseChecksumValidation: 'WHEN_SUPPORTED',
      maxParts: 10_000,
      partSizeFloor: 16 * MiB,
      queueSize: 4,
      maxAttempts: 5,
    });
  });

  test('takes options from the query, ahead of the environment', () => {
    const { settings } = s3(
      's3://acme-backups?region=us-west-2&endpoint=http://127.0.0.1:9000&sse=aws:kms&sse_kms_key_id=1234abcd-12ab&checksum=when_required&max_parts=1000&part_size=64MiB&queue_size=2',
      { ...AWS, AWS_ENDPOINT_URL_S3: 'https://s3.example.com', AWS_SESSION_TOKEN: 'token' },
    );
    assert.equal(settings.prefix, '');
    assert.equal(settings.region, 'us-west-2');
    assert.equal(settings.endpoint, 'http://127.0.0.1:9000');
    assert.equal(settings.forcePathStyle, true, 'path-style by default with a custom endpoint');
    assert.deepEqual(settings.sse, { algorithm: 'aws:kms', kmsKeyId: '1234abcd-12ab' });
    assert.equal(settings.requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.equal(settings.responseChecksumValidation, 'WHEN_REQUIRED');
    assert.equal(settings.maxParts, 1000);
    assert.equal(settings.partSizeFloor, 64 * MiB);
    assert.equal(settings.queueSize, 2);
    assert.equal(settings.credentials?.sessionToken, 'token');
  });

  test('reads the endpoint, region and checksum mode from the usual AWS variables', () => {
    const { settings } = s3('s3://acme-backups/x', {
      AWS_DEFAULT_REGION: 'ap-south-1',
      AWS_ENDPOINT_URL: 'https://minio.internal:9000',
      AWS_REQUEST_CHECKSUM_CALCULATION: 'WHEN_REQUIRED',
      AWS_RESPONSE_CHECKSUM_VALIDATION: 'when_required',
    });
    assert.equal(settings.region, 'ap-south-1');
    assert.equal(settings.endpoint, 'https://minio.internal:9000');
    assert.equal(settings.credentials, undefined, 'no keys: the SDK default chain (roles) is used');
    assert.equal(settings.requestChecksumCalculation, 'WHEN_REQUIRED');
    assert.equal(s3('s3://acme-backups?path_style=false&endpoint=http://localhost:1').settings.forcePathStyle, false);
  });

  test('reads a file URL as an absolute folder', () => {
    assert.deepEqual(parseStorageUrl('file:///var/lib/big-backup/', {}), {
      kind: 'file',
      location: 'file:///var/lib/big-backup',
      root: '/var/lib/big-backup',
    });
  });

  test('explains every problem with a bad S3 URL at once, without echoing secrets', () => {
    const message = problem(
      's3://Bad_Bucket/.hidden/y?sse=AES128&sse_kms_key_id=k&max_parts=20000&part_size=1MiB&colour=blue',
      { AWS_ACCESS_KEY_ID: 'AKIAEXAMPLE' },
    );
    for (const expected of [
      /not a valid bucket name/,
      /prefix: .*each segment must start with a letter or digit/,
      /sse/,
      /max_parts/,
      /part_size: must be at least 5 MiB/,
      /unknown option "colour"/,
      /AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together/,
    ]) {
      assert.match(message, expected);
    }
    assert.doesNotMatch(message, /AKIAEXAMPLE/);
  });

  test('refuses credentials in the URL, unknown schemes and unsafe folders', () => {
    assert.match(problem('s3://AKIA:secret@acme-backups/x'), /must not contain credentials/);
    assert.doesNotMatch(problem('s3://AKIA:secret@acme-backups/x'), /secret/);
    assert.match(problem('gs://acme-backups/x'), /unsupported storage URL scheme "gs:"/);
    assert.match(problem('not a url'), /not a URL/);
    assert.match(problem('file:///'), /filesystem root/);
    assert.match(problem('file://server/share'), /only local paths/);
    assert.match(problem('file:///var/x?sync=false'), /take no options/);
    assert.match(problem('s3://acme-backups?sse_kms_key_id=k'), /needs sse=aws:kms/);
    assert.match(problem('s3://acme-backups?sse=AES256&sse=aws:kms'), /given twice/);
    assert.match(problem('s3://acme-backups?endpoint=ftp://x'), /endpoint/);
  });
});
