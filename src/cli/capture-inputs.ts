import { randomBytes } from 'node:crypto';
import { UsageError, type SourceArg } from './args.ts';
import type { CliContext } from './context.ts';

/** The database URL, from the environment for `env:NAME` so that it never has to be in argv. */
export function sourceUrl(source: SourceArg, env: CliContext['env']): string {
  if (source.kind === 'url') return source.url;
  const value = env[source.name];
  if (value === undefined || value.trim() === '')
    throw new UsageError(`--source env:${source.name}: the environment variable ${source.name} is not set`, 'capture');
  return value.trim();
}

/**
 * `big-backup/<database>/<UTC time>-<random>.dump`: sorts by time, each segment passes the key rules,
 * and two runs started in the same second (a scheduler firing twice) never share a key, so neither can
 * overwrite the other's archive or delete it when cleaning up after itself.
 */
export function defaultKey(database: string, at: Date, extension: string): string {
  let name = database
    .replace(/[^A-Za-z0-9._=+@-]+/g, '-')
    .replace(/^[^A-Za-z0-9]+/, '')
    .slice(0, 100);
  if (name === '') name = 'database';
  const time = at
    .toISOString()
    .replace(/\.\d+Z$/, 'Z')
    .replace(/[-:]/g, '');
  return `big-backup/${name}/${time}-${randomBytes(4).toString('hex')}${extension}`;
}
