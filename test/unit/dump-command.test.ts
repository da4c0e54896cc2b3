import test from 'node:test';
import assert from 'node:assert/strict';
import { inspect } from 'node:util';
import { buildDumpCommand, describeFormat } from '../../src/engine/dump-command.ts';
import { escapePgpassField, pgpassLine } from '../../src/engine/password-file.ts';
import { parseDatabaseUrl, describeConnection, directSource } from '../../src/engine/source.ts';
import { redact } from '../../src/shared/redact.ts';
import { isDumpFailure } from '../../src/engine/index.ts';

const PASSWORD = 'p@ss:w\\ord/é';
const URL_WITH_PASSWORD = `postgres://alice:${encodeURIComponent(PASSWORD)}@db.example.com:6543/d1abc?sslmode=require`;

test('a database URL becomes connection parameters whose password never prints', () => {
  const connection = parseDatabaseUrl(URL_WITH_PASSWORD);
  assert.equal(connection.host, 'db.example.com');
  assert.equal(connection.port, 6543);
  assert.equal(connection.database, 'd1abc');
  assert.equal(connection.user, 'alice');
  assert.equal(connection.sslmode, 'require');
  assert.equal(connection.password.reveal(), PASSWORD);
  for (const printed of [JSON.stringify(connection), inspect(connection, { depth: 5 }), String(connection.password)]) {
    assert.ok(!printed.includes(PASSWORD) && !printed.includes('w\\\\ord'), printed);
  }
  assert.equal(describeConnection(connection), 'postgres://alice@db.example.com:6543/d1abc');
});

test('ssl=true means sslmode=require; parameters pg_dump would not honour are refused, not dropped', () => {
  assert.equal(parseDatabaseUrl('postgres://u:pw@h/db?ssl=true').sslmode, 'require');
  assert.equal(parseDatabaseUrl('postgres://u:pw@h/db?ssl=true&sslmode=verify-full').sslmode, 'verify-full');
  assert.equal(parseDatabaseUrl('postgres://u:pw@h/db?application_name=app&connect_timeout=5').sslmode, undefined);
  for (const [url, message] of [
    ['postgres://u:pw@h/db?sslmode=require&channel_binding=require', /connection parameter "channel_binding"/],
    ['postgres://u:pw@h/db?sslrootcert=%2Fetc%2Fca.pem', /connection parameter "sslrootcert"/],
    ['postgres://u:pw@h/db?options=-csearch_path%3Dx', /connection parameter "options"/],
    ['postgres://u:pw@h/db?ssl=maybe', /ssl must be true/],
    ['postgres://u:pw@%2Fvar%2Frun%2Fpostgresql/db', /unix-socket host is not supported/],
  ] as const) {
    assert.throws(
      () => parseDatabaseUrl(url),
      (error: unknown) => isDumpFailure(error) && error.kind === 'invalid_source' && message.test(error.message),
      url,
    );
  }
});

test('a direct source resolves to the URL with a description free of the password', async () => {
  const resolved = await directSource(URL_WITH_PASSWORD).resolve();
  assert.equal(resolved.description, 'postgres://alice@db.example.com:6543/d1abc');
  assert.equal(resolved.connection.password.reveal(), PASSWORD);
});

test('an unusable URL is refused without quoting it', async () => {
  for (const bad of [
    'not a url s3cret',
    'mysql://u:s3cret@h/db',
    'postgres://u:s3cret@h/db?sslmode=sometimes',
    'postgres://:s3cret@h/db',
  ]) {
    await assert.rejects(directSource(bad).resolve(), (error: unknown) => {
      assert.ok(isDumpFailure(error));
      assert.equal(error.kind, 'invalid_source');
      assert.equal(error.retryable, false);
      assert.ok(!error.message.includes('s3cret'), error.message);
      return true;
    });
  }
});

test('the password file escapes backslashes and colons as libpq reads them', () => {
  assert.equal(escapePgpassField('a:b\\c'), 'a\\:b\\\\c');
  const connection = parseDatabaseUrl(URL_WITH_PASSWORD);
  assert.equal(pgpassLine(connection), 'db.example.com:6543:d1abc:alice:p@ss\\:w\\\\ord/é');
});

test('the default format is a PGBackups-compatible gzip-2 custom archive with the connection as flags', () => {
  const connection = parseDatabaseUrl(URL_WITH_PASSWORD);
  const format = describeFormat('default', 15, true, 120_000);
  const command = buildDumpCommand({ connection, passwordFile: '/tmp/x/pgpass', format, serverMajor: 15 });
  assert.deepEqual(command.argv, [
    '-Fc',
    '--compress=2',
    '--no-acl',
    '--no-owner',
    '--quote-all-identifiers',
    '--verbose',
    '-w',
    '--lock-wait-timeout=120000',
    '--exclude-schema=heroku_ext',
    '--host=db.example.com',
    '--port=6543',
    '--username=alice',
    '--dbname=d1abc',
  ]);
  assert.equal(command.env.PGPASSFILE, '/tmp/x/pgpass');
  assert.equal(command.env.PGSSLMODE, 'require');
  assert.equal(command.env.PGPASSWORD, undefined);
  const everything = JSON.stringify(command);
  assert.ok(!everything.includes(PASSWORD) && !everything.includes(encodeURIComponent(PASSWORD)));
  assert.equal(format.wrapper, 'none');
  assert.equal(format.fileExtension, '.dump');
  assert.match(format.restoreCommand, /^pg_restore .*--no-acl --no-owner .*backup\.dump$/);
});

test('heroku_ext is excluded only when the schema exists', () => {
  assert.ok(describeFormat('default', 15, true).flags.includes('--exclude-schema=heroku_ext'));
  assert.ok(!describeFormat('default', 15, false).flags.some((flag) => flag.includes('heroku_ext')));
});

test("the fast format wraps -Z0 in zstd before pg_dump 16 and uses pg_dump's own zstd from 16", () => {
  const old = describeFormat('fast', 15, false);
  assert.equal(old.pgDumpCompression, '0');
  assert.equal(old.wrapper, 'zstd');
  assert.equal(old.fileExtension, '.dump.zst');
  assert.match(old.restoreCommand, /^zstd -dc backup\.dump\.zst \| pg_restore /);
  const modern = describeFormat('fast', 17, false);
  assert.equal(modern.pgDumpCompression, 'zstd:2');
  assert.ok(modern.flags.includes('--compress=zstd:2'));
  assert.equal(modern.wrapper, 'none');
  assert.equal(modern.minPgRestoreMajor, 17);
  assert.equal(describeFormat('fast', 16, false).minPgRestoreMajor, 16);
});

test('a database name libpq would expand as a connection string goes through PGDATABASE', () => {
  const connection = parseDatabaseUrl('postgres://u:pw@h/' + encodeURIComponent('host=evil dbname=x'));
  const command = buildDumpCommand({
    connection,
    passwordFile: '/p',
    format: describeFormat('default', 15, false),
    serverMajor: 15,
  });
  assert.ok(!command.argv.some((arg) => arg.startsWith('--dbname')));
  assert.equal(command.env.PGDATABASE, 'host=evil dbname=x');
});

test('the client connection check is asked for only on servers that know it', () => {
  const connection = parseDatabaseUrl('postgres://u:pw@h/db');
  const format = describeFormat('default', 15, false);
  assert.match(
    buildDumpCommand({ connection, passwordFile: '/p', format, serverMajor: 14 }).env.PGOPTIONS ?? '',
    /client_connection_check_interval/,
  );
  assert.equal(buildDumpCommand({ connection, passwordFile: '/p', format, serverMajor: 13 }).env.PGOPTIONS, undefined);
});

test('redaction removes literal, percent-encoded and URI passwords', () => {
  const text = `failed for postgres://bob:hunter2@h/db and ${PASSWORD} and ${encodeURIComponent(PASSWORD)} password=abc def`;
  const clean = redact(text, [PASSWORD]);
  for (const secret of ['hunter2', PASSWORD, encodeURIComponent(PASSWORD), 'abc'])
    assert.ok(!clean.includes(secret), clean);
  assert.match(clean, /postgres:\/\/bob:\[redacted\]@h\/db/);
});

test('pg_dump keeps the loader path the apt buildpack sets, and nothing else of our environment', (t) => {
  const saved = process.env.LD_LIBRARY_PATH;
  t.after(() => {
    if (saved === undefined) delete process.env.LD_LIBRARY_PATH;
    else process.env.LD_LIBRARY_PATH = saved;
  });
  const connection = parseDatabaseUrl(URL_WITH_PASSWORD);
  const format = describeFormat('default', 17, false);
  process.env.LD_LIBRARY_PATH = '/app/.apt/usr/lib/x86_64-linux-gnu:/app/.apt/usr/lib';
  const command = buildDumpCommand({ connection, passwordFile: '/p', format, serverMajor: 17 });
  assert.equal(command.env.LD_LIBRARY_PATH, '/app/.apt/usr/lib/x86_64-linux-gnu:/app/.apt/usr/lib');
  assert.equal(command.env.HOME, undefined);
  delete process.env.LD_LIBRARY_PATH;
  assert.equal(
    buildDumpCommand({ connection, passwordFile: '/p', format, serverMajor: 17 }).env.LD_LIBRARY_PATH,
    undefined,
  );
});
