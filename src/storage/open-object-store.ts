import { FileObjectStore } from './file-store.ts';
import type { ObjectStore } from './object-store.ts';
import { parseStorageUrl, type StorageEnv } from './storage-url.ts';

/**
 * Opens the store a storage URL names (`s3://bucket/prefix?…` or `file:///path`; see
 * storage-url.ts for the options). `env` supplies the AWS variables; pass the parsed config's
 * environment, not `process.env` directly. Throws `invalid_config` with a readable list of problems.
 * The AWS SDK (about 25 MB of a worker's memory) is loaded only for an S3 store.
 */
export async function openObjectStore(url: string, env: StorageEnv): Promise<ObjectStore> {
  const config = parseStorageUrl(url, env);
  if (config.kind === 'file') return new FileObjectStore(config.root, config.location).init();
  const { S3ObjectStore } = await import('./s3-store.ts');
  return new S3ObjectStore(config.settings, config.location);
}
