import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { prepareDump, runDump, startDump, directSource, isDumpFailure } from '../../../src/engine/index.ts';
import { resolveAllowedHost } from '../../../src/net/host-guard.ts';
import { startSourceServer, createDatabase } from '../../support/seed-source.ts';

// The engine resolves and checks the host itself, whoever calls it, and pg_dump and the probe then
// connect to the address it checked.
const server = await startSourceServer();
after(() => server.stop());
const url = await createDatabase(server, 'guarded');
const withHost = (host: string) => url.replace('@127.0.0.1:', `@${host}:`);

test('the engine refuses loopback hosts in every spelling unless private hosts are allowed', async () => {
  for (const host of ['127.0.0.1', 'localhost', '2130706433', '0x7f000001', '0177.0.0.1', '[::ffff:127.0.0.1]']) {
    await assert.rejects(prepareDump(directSource(withHost(host))), (error: unknown) => {
      assert.ok(isDumpFailure(error), host);
      assert.equal(error.kind, 'source_not_allowed', host);
      assert.equal(error.retryable, false);
      assert.doesNotMatch(error.message, /127\.0\.0\.1|::ffff/);
      return true;
    });
  }
});

test('link-local stays refused with private hosts allowed', async () => {
  await assert.rejects(
    prepareDump(directSource(withHost('169.254.169.254')), { hosts: { allowPrivate: true } }),
    (error: unknown) => isDumpFailure(error) && error.kind === 'source_not_allowed',
  );
});

test('an allowed host is planned with the address that was checked, whatever its spelling', async () => {
  for (const host of ['127.0.0.1', '2130706433', '0177.0.0.1']) {
    const plan = await prepareDump(directSource(withHost(host)), { hosts: { allowPrivate: true } });
    assert.deepEqual(plan.connection.addresses, ['127.0.0.1'], host);
    assert.equal(plan.connection.host, host, 'the host name is kept for TLS and the password file');
  }
});

test('pg_dump connects to the checked address, finding its password by the host name', async () => {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'bb-guard-'));
  after(() => rm(tmpDir, { recursive: true, force: true }));
  const run = await startDump(directSource(withHost('localhost')), { hosts: { allowPrivate: true }, tmpDir });
  assert.deepEqual(run.plan.connection.addresses, await resolveAllowedHost('localhost', { allowPrivate: true }));
  assert.ok(run.argv.includes('--host=localhost'), run.argv.join(' '));
  let bytes = 0;
  for await (const chunk of run.stdout) bytes += (chunk as Buffer).length;
  const result = await run.done;
  assert.equal(result.bytesOut, bytes);
  assert.ok(bytes > 0);
});

test('pg_dump never looks the name up again: it connects to the checked address even if the name now leads nowhere', async () => {
  const tmpDir = await mkdtemp(path.join(os.tmpdir(), 'bb-guard-'));
  after(() => rm(tmpDir, { recursive: true, force: true }));
  const plan = await prepareDump(directSource(url), { hosts: { allowPrivate: true } });
  // As if DNS had changed after the check: the name no longer resolves at all.
  const rebound = { ...plan, connection: { ...plan.connection, host: 'rebound.invalid' } };
  const run = await runDump(rebound, { tmpDir });
  for await (const chunk of run.stdout) assert.ok(chunk);
  const result = await run.done;
  assert.ok(result.bytesOut > 0);
});
