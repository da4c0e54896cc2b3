import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { after } from 'node:test';

/** The migrated database every test database is cloned from. */
export const TEMPLATE_DATABASE = 'bb_template';

/** The test server started by global-setup.ts. */
export function testServerUrl(): string {
  const url = process.env.BB_TEST_PG_URL;
  if (!url)
    throw new Error('BB_TEST_PG_URL is not set: run tests with `npm test` (it starts the test PostgreSQL server)');
  return url;
}

/** Returns the URL of the same server with another database name. */
export function databaseUrl(name: string, base: string = testServerUrl()): string {
  const parsed = new URL(base);
  parsed.pathname = '/' + name;
  return parsed.toString();
}

/**
 * Clones the migrated template into a fresh database for this test file and drops it when the file
 * ends. Cloning needs the template to have no open connections, which holds: only setup touches it.
 */
export async function createTestDatabase(label = 'db'): Promise<string> {
  const database = await cloneTemplateDatabase(label);
  after(() => database.drop());
  return database.url;
}

/**
 * Clones the migrated template into a fresh database that the caller drops. startTestApp drops its
 * database only after the app has stopped: `after` hooks run in the order they were added, and a
 * database dropped (with force) while the app still runs makes its queue reconnect to a database that
 * no longer exists, an error that surfaces after the file's tests and fails the file.
 */
export async function cloneTemplateDatabase(label = 'db'): Promise<{ url: string; drop(): Promise<void> }> {
  const name = `bb_${label.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client(testServerUrl());
  await admin.connect();
  try {
    await admin.query(`create database ${name} template ${TEMPLATE_DATABASE}`);
  } finally {
    await admin.end();
  }
  return {
    url: databaseUrl(name),
    async drop() {
      const client = new pg.Client(testServerUrl());
      await client.connect();
      await client.query(`drop database if exists ${name} with (force)`).catch(() => {});
      await client.end();
    },
  };
}
