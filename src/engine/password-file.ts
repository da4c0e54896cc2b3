import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { ConnectionParams } from './source.ts';

/** A 0600 PGPASSFILE in a private 0700 folder; `remove()` deletes both and is safe to call twice. */
export interface PasswordFile {
  readonly path: string;
  remove(): Promise<void>;
}

/**
 * Writes the one line pg_dump needs. The password reaches pg_dump only through this file: never argv
 * (visible in `ps` and `/proc/<pid>/cmdline`) and never PGPASSWORD (visible in `/proc/<pid>/environ`).
 */
export async function writePasswordFile(
  connection: ConnectionParams,
  tmpDir: string = os.tmpdir(),
): Promise<PasswordFile> {
  const folder = await mkdtemp(path.join(tmpDir, 'bb-pgpass-'));
  const file = path.join(folder, 'pgpass');
  try {
    await writeFile(file, pgpassLine(connection) + '\n', { mode: 0o600, flag: 'wx' });
  } catch (error) {
    await rm(folder, { recursive: true, force: true });
    throw error;
  }
  return {
    path: file,
    async remove() {
      await rm(folder, { recursive: true, force: true });
    },
  };
}

/** `host:port:database:user:password`, each field escaped as libpq reads it. */
export function pgpassLine(connection: ConnectionParams): string {
  return [connection.host, String(connection.port), connection.database, connection.user, connection.password.reveal()]
    .map(escapePgpassField)
    .join(':');
}

/** libpq treats `\` as an escape and `:` as the field separator. */
export function escapePgpassField(value: string): string {
  return value.replace(/[\\:]/g, (c) => '\\' + c);
}
