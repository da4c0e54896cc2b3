import test from 'node:test';
import assert from 'node:assert/strict';
import { buildDumpCommand, describeFormat } from '../../src/engine/dump-command.ts';
import { directSource, herokuSource, parseDatabaseUrl } from '../../src/engine/source.ts';
import { pgpassLine } from '../../src/engine/password-file.ts';

const HEROKU_URL = 'postgres://u:pw@ec2-52-1-2-3.compute-1.amazonaws.com:5432/d1';

test('a Heroku URL is dumped with at least sslmode=require, whatever it says', async () => {
  for (const [query, expected] of [
    ['', 'require'],
    ['?sslmode=disable', 'require'],
    ['?sslmode=allow', 'require'],
    ['?sslmode=prefer', 'require'],
    ['?sslmode=require', 'require'],
    ['?sslmode=verify-ca', 'verify-ca'],
    ['?sslmode=verify-full', 'verify-full'],
  ] as const) {
    const { connection } = await herokuSource(HEROKU_URL + query).resolve();
    assert.equal(connection.sslmode, expected, query);
    const format = describeFormat('default', 15, false);
    assert.equal(buildDumpCommand({ connection, passwordFile: '/p', format, serverMajor: 15 }).env.PGSSLMODE, expected);
  }
});

test('a URL the customer gave keeps the sslmode it says', async () => {
  assert.equal((await directSource(HEROKU_URL).resolve()).connection.sslmode, undefined);
  assert.equal((await directSource(HEROKU_URL + '?sslmode=disable').resolve()).connection.sslmode, 'disable');
});

test('pg_dump connects to the checked addresses and keeps the host name for TLS and the password file', () => {
  const format = describeFormat('default', 15, false);
  const connection = { ...parseDatabaseUrl(HEROKU_URL), addresses: ['52.1.2.3', '2a05:d018::1'] };
  const command = buildDumpCommand({ connection, passwordFile: '/p', format, serverMajor: 15 });
  assert.equal(command.env.PGHOSTADDR, '52.1.2.3,2a05:d018::1');
  const host = 'ec2-52-1-2-3.compute-1.amazonaws.com';
  assert.ok(command.argv.includes(`--host=${host},${host}`), command.argv.join(' '));
  assert.ok(pgpassLine(connection).startsWith(`${host}:5432:`));

  const one = buildDumpCommand({
    connection: { ...connection, addresses: ['52.1.2.3'] },
    passwordFile: '/p',
    format,
    serverMajor: 15,
  });
  assert.equal(one.env.PGHOSTADDR, '52.1.2.3');
  assert.ok(one.argv.includes(`--host=${host}`));
  const unchecked = buildDumpCommand({
    connection: parseDatabaseUrl(HEROKU_URL),
    passwordFile: '/p',
    format,
    serverMajor: 15,
  });
  assert.equal(unchecked.env.PGHOSTADDR, undefined);
});
