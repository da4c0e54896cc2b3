import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig, ConfigError } from '../../src/config.ts';

const valid = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  HEROKU_ADDON_PASSWORD: 'x'.repeat(20),
  HEROKU_SSO_SALT: 's'.repeat(32),
  HEROKU_OAUTH_CLIENT_SECRET: 'secret',
  PUBLIC_URL: 'https://big-backup.example.com',
  SESSION_SECRET: 'z'.repeat(40),
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  STORAGE_URL: 's3://archives/big-backup',
};

test('parses a complete environment with Heroku defaults', () => {
  const config = loadConfig(valid);
  assert.equal(config.PORT, 5000);
  assert.equal(config.HEROKU_API_URL, 'https://api.heroku.com');
  assert.equal(config.HEROKU_OAUTH_URL, 'https://id.heroku.com');
  assert.equal(config.ENCRYPTION_KEY.length, 1);
});

test('reports every problem at once, naming each variable', () => {
  try {
    loadConfig({ PORT: 'eighty', ENCRYPTION_KEY: 'short' });
    assert.fail('should throw');
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    const text = error.message;
    for (const name of [
      'PORT',
      'DATABASE_URL',
      'HEROKU_ADDON_PASSWORD',
      'HEROKU_SSO_SALT',
      'HEROKU_OAUTH_CLIENT_SECRET',
      'PUBLIC_URL',
      'SESSION_SECRET',
      'ENCRYPTION_KEY',
    ]) {
      assert.match(text, new RegExp(name), `mentions ${name}`);
    }
    assert.ok(error.problems.length >= 8);
  }
});

test('accepts a list of encryption keys for rotation, the first being current', () => {
  const keys = [randomBytes(32).toString('base64'), randomBytes(32).toString('base64')];
  assert.deepEqual(loadConfig({ ...valid, ENCRYPTION_KEY: keys.join(', ') }).ENCRYPTION_KEY, keys);
});

test('refuses an encryption key that is not 32 bytes', () => {
  assert.throws(() => loadConfig({ ...valid, ENCRYPTION_KEY: randomBytes(16).toString('base64') }), /32 random bytes/);
});

test('refuses a database URL that is not postgres', () => {
  assert.throws(() => loadConfig({ ...valid, DATABASE_URL: 'mysql://u:p@h/db' }), /postgres/);
});

test("requires STORAGE_URL in production, so archives never land on a dyno's ephemeral disk", () => {
  const { STORAGE_URL: _omitted, ...withoutStorage } = valid;
  assert.throws(() => loadConfig(withoutStorage), /STORAGE_URL is required in production/);
  assert.equal(loadConfig({ ...withoutStorage, NODE_ENV: 'development' }).STORAGE_URL, undefined);
});

test('passes the AWS_* variables through for the S3 client, and nothing else', () => {
  const config = loadConfig({ ...valid, AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA', OTHER: 'x' });
  assert.deepEqual(config.AWS, { AWS_REGION: 'eu-west-1', AWS_ACCESS_KEY_ID: 'AKIA' });
});

test('refuses a Connect client id without its secret, and the other way round', () => {
  assert.doesNotThrow(() =>
    loadConfig({ ...valid, HEROKU_CONNECT_CLIENT_ID: 'id', HEROKU_CONNECT_CLIENT_SECRET: 'secret' }),
  );
  assert.doesNotThrow(() => loadConfig(valid));
  assert.throws(
    () => loadConfig({ ...valid, HEROKU_CONNECT_CLIENT_ID: 'id' }),
    /HEROKU_CONNECT_CLIENT_SECRET.*set both, or neither/,
  );
  assert.throws(
    () => loadConfig({ ...valid, HEROKU_CONNECT_CLIENT_SECRET: 'secret' }),
    /HEROKU_CONNECT_CLIENT_ID.*set both, or neither/,
  );
});

test('app.json asks a Heroku deploy for every variable production cannot start without', async () => {
  const { readFile } = await import('node:fs/promises');
  const appJson = JSON.parse(await readFile(new URL('../../app.json', import.meta.url), 'utf8')) as {
    env: Record<string, { required?: boolean; generator?: string }>;
    addons: Array<{ as?: string }>;
  };
  // Checks across variables run once each one is valid, so ask twice: with nothing, then with the rest.
  const { STORAGE_URL: _storage, ...withoutStorage } = valid;
  const problems: string[] = [];
  for (const env of [{ NODE_ENV: 'production' }, { ...withoutStorage, NODE_ENV: 'production' }]) {
    try {
      loadConfig(env);
    } catch (error) {
      problems.push(...(error as ConfigError).problems);
    }
  }
  const needed = [
    ...new Set(problems.map((p) => /^([A-Z_]+)/.exec(p)?.[1]).filter((name): name is string => name !== undefined)),
  ];
  assert.ok(needed.includes('STORAGE_URL') && needed.includes('SESSION_SECRET'), needed.join(', '));
  for (const name of needed) {
    const provided =
      appJson.addons.some((a) => `${a.as}_URL` === name) ||
      appJson.env[name]?.required === true ||
      appJson.env[name]?.generator !== undefined;
    assert.ok(provided, `app.json does not ask for ${name}`);
  }
});

test('private database hosts can be allowed in development and tests, never in production', () => {
  assert.equal(loadConfig(valid).ALLOW_PRIVATE_DATABASE_HOSTS, false);
  assert.equal(
    loadConfig({ ...valid, NODE_ENV: 'development', ALLOW_PRIVATE_DATABASE_HOSTS: 'true' })
      .ALLOW_PRIVATE_DATABASE_HOSTS,
    true,
  );
  assert.throws(
    () => loadConfig({ ...valid, ALLOW_PRIVATE_DATABASE_HOSTS: 'true' }),
    /ALLOW_PRIVATE_DATABASE_HOSTS cannot be true in production/,
  );
  assert.throws(() => loadConfig({ ...valid, ALLOW_PRIVATE_DATABASE_HOSTS: 'yes' }), /must be true or false/);
});

test('backup slots default to 3 per worker and 1 per tenant, with a floor of 256 KiB/s over 10 minutes', () => {
  const config = loadConfig(valid);
  assert.equal(config.BACKUP_CONCURRENCY, 3);
  assert.equal(config.BACKUP_TENANT_CONCURRENCY, 1);
  assert.equal(config.BACKUP_MIN_THROUGHPUT_BYTES_PER_SECOND, 256 * 1024);
  assert.equal(config.BACKUP_MIN_THROUGHPUT_WINDOW_SECONDS, 600);
  const tuned = loadConfig({
    ...valid,
    BACKUP_CONCURRENCY: '8',
    BACKUP_TENANT_CONCURRENCY: '2',
    BACKUP_MIN_THROUGHPUT_BYTES_PER_SECOND: '0',
  });
  assert.equal(tuned.BACKUP_CONCURRENCY, 8);
  assert.equal(tuned.BACKUP_TENANT_CONCURRENCY, 2);
  assert.equal(tuned.BACKUP_MIN_THROUGHPUT_BYTES_PER_SECOND, 0, '0 turns the floor off');
  assert.throws(() => loadConfig({ ...valid, BACKUP_CONCURRENCY: '0' }), /BACKUP_CONCURRENCY/);
  assert.throws(
    () => loadConfig({ ...valid, BACKUP_MIN_THROUGHPUT_WINDOW_SECONDS: '1' }),
    /BACKUP_MIN_THROUGHPUT_WINDOW/,
  );
});

test('reads the sharded capture’s split size with a unit, 1 GiB by default, and the pieces one worker runs at once', () => {
  assert.equal(loadConfig(valid).SHARD_SPLIT_SIZE, 1024 ** 3);
  assert.equal(loadConfig({ ...valid, SHARD_SPLIT_SIZE: '8MB' }).SHARD_SPLIT_SIZE, 8_000_000);
  assert.equal(loadConfig({ ...valid, SHARD_SPLIT_SIZE: '2 GiB' }).SHARD_SPLIT_SIZE, 2 * 1024 ** 3);
  assert.equal(loadConfig({ ...valid, SHARD_SPLIT_SIZE: '5000000' }).SHARD_SPLIT_SIZE, 5_000_000);
  assert.throws(() => loadConfig({ ...valid, SHARD_SPLIT_SIZE: 'huge' }), /SHARD_SPLIT_SIZE must be a size/);
  assert.throws(() => loadConfig({ ...valid, SHARD_SPLIT_SIZE: '1kB' }), /at least 64KiB/);
  assert.equal(loadConfig(valid).PIECE_CONCURRENCY, 4);
});
