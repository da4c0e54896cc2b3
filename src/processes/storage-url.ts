import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Config } from '../config.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where archives go: STORAGE_URL, or (outside production, where config requires it) a folder in the checkout. */
export function storageUrl(config: Config): string {
  return config.STORAGE_URL ?? pathToFileURL(path.join(ROOT, '.data', 'archives')).toString();
}
