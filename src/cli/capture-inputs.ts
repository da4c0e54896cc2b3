import { randomBytes } from 'node:crypto';
import { parseDatabaseUrl } from '../engine/index.ts';
import { assertValidKey } from '../storage/keys.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { UsageError, type CaptureArgs, type SourceArg } from './args.ts';
import type { CliContext } from './context.ts';
import { CliFailure } from './failure.ts';
import type { ArchiveLocation } from './result.ts';

/** The database URL, from the environment for `env:NAME` so that it never has to be in argv. */
export function sourceUrl(source: SourceArg, env: CliContext['env']): string {
  if (source.kind === 'url') return source.url;
  const value = env[source.name];
  if (value === undefined || value.trim() === '')
    throw new UsageError(`--source env:${source.name}: the environment variable ${source.name} is not set`, 'capture');
  return value.trim();
}

/**
 * The checked inputs of a capture: the source URL (it and its password go to `secrets`, to be kept
 * out of every message) and the key if one was given; warns when the password is on the command line.
 */
export function captureSource(args: CaptureArgs, ctx: CliContext, secrets: string[]): string {
  const url = sourceUrl(args.source, ctx.env);
  secrets.push(url);
  const connection = parseDatabaseUrl(url);
  secrets.push(connection.password.reveal());
  if (args.source.kind === 'url' && connection.password.reveal() !== '' && !args.quiet) {
    ctx.stderr.write(
      'big-backup: warning: the password is on the command line, where other processes can read it; prefer --source env:DATABASE_URL\n',
    );
  }
  if (args.key !== null) assertValidKey(args.key);
  return url;
}

/**
 * Never overwrite an archive: a failed run's cleanup would then delete the earlier, good one. Throws
 * `exists` when `key` is taken.
 */
export async function assertKeyFree(store: ObjectStore, key: string, where: ArchiveLocation): Promise<void> {
  if (await store.head(key)) {
    throw new CliFailure(
      'exists',
      `${where.path ?? where.url} already exists`,
      'choose another --key, or leave --key out for a new timestamped one',
    );
  }
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
