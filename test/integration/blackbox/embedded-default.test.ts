import test from 'node:test';
import { once } from 'node:events';
import net from 'node:net';
import assert from 'node:assert/strict';
import { mkdtempSync, statSync, readFileSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { freePort } from '../../../dev/db/local-cluster.ts';
import { runNpm, waitForHttp } from '../../support/child-process.ts';
import { Browser } from '../../support/stack.ts';

// The README's first command: `npm start` with no configuration at all.
const parent = mkdtempSync(path.join(os.tmpdir(), 'bb-embedded-'));
chmodSync(parent, 0o755); // as root, the embedded server runs as the postgres user
const dataDir = path.join(parent, 'data');
const port = await freePort();
const simPort = await freePort();
const server = runNpm(['start'], {
  PORT: String(port),
  SIM_PORT: String(simPort),
  BIG_BACKUP_DATA_DIR: dataDir,
  BIG_BACKUP_DEMO_DATA_MB: '10',
});
test.after(async () => {
  await server.stop(); // the embedded server's files go with its folder, once it has stopped
  rmSync(parent, { recursive: true, force: true });
});
await waitForHttp(`http://localhost:${port}/healthz`, server, 90_000);

test('prints how to open the demo', () => {
  assert.match(server.output(), new RegExp(`Demo: open http://127\\.0\\.0\\.1:${simPort}/`));
});

test('keeps generated development secrets private in the data folder', () => {
  const file = path.join(dataDir, 'dev-secrets.json');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.ok(JSON.parse(readFileSync(file, 'utf8')).encryptionKey);
});

test('provisions a demo add-on through the simulator console and signs in to its dashboard', async () => {
  const sim = `http://127.0.0.1:${simPort}`;
  const created = await fetch(`${sim}/_sim/provision`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'plan=standard',
    redirect: 'manual',
  });
  assert.ok(created.status < 400);
  const state = (await (await fetch(`${sim}/_sim/state`)).json()) as {
    addons: Array<{ id: string; service: string; state: string }>;
  };
  const addon = state.addons.find((a) => a.service === 'big-backup' && a.state === 'provisioned');
  assert.ok(addon, 'a provisioned add-on');
  // The console's "Open dashboard (SSO)" page auto-posts a form; read it as the browser would.
  const page = await (await fetch(`${sim}/sso/${addon.id}`)).text();
  const action = /<form[^>]*action="([^"]+)"/.exec(page)![1]!;
  const params = Object.fromEntries(
    [...page.matchAll(/<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"/g)].map((m) => [
      m[1]!,
      m[2]!.replace(/&amp;/g, '&'),
    ]),
  );
  const browser = new Browser(`http://localhost:${port}`);
  assert.equal((await browser.signIn({ action, params })).status, 303);
  const dashboard = await browser.request('GET', '/dashboard');
  assert.equal(dashboard.status, 200);
  assert.match(await dashboard.text(), /Standard/);
});

test('keeps its data, the demo database included, across a restart', async () => {
  await server.stop();
  const again = runNpm(['start'], {
    PORT: String(port),
    SIM_PORT: String(simPort),
    BIG_BACKUP_DATA_DIR: dataDir,
    BIG_BACKUP_DEMO_DATA_MB: '10',
  });
  await waitForHttp(`http://localhost:${port}/healthz`, again, 90_000);
  assert.doesNotMatch(again.output(), /could not start/);
  assert.match(server.output(), /building the demo database demo_shop/);
  assert.doesNotMatch(again.output(), /building the demo database/, 'the demo database is built once and reused');
  await again.stop();
});

test('a start that fails (its port taken) stops the PostgreSQL it started, so the next start works', async () => {
  const blocker = net.createServer();
  const taken = await freePort();
  await new Promise<void>((resolve) => blocker.listen(taken, resolve));
  try {
    const failed = runNpm(['start'], {
      PORT: String(taken),
      SIM_PORT: String(simPort),
      BIG_BACKUP_DATA_DIR: dataDir,
      BIG_BACKUP_DEMO_DATA_MB: '10',
    });
    const [code] = (await once(failed.child, 'exit')) as [number | null];
    assert.equal(code, 1, failed.output());
    assert.match(failed.output(), /big-backup could not start\.\n.*EADDRINUSE/);
  } finally {
    blocker.close();
  }
  const again = runNpm(['start'], {
    PORT: String(port),
    SIM_PORT: String(simPort),
    BIG_BACKUP_DATA_DIR: dataDir,
    BIG_BACKUP_DEMO_DATA_MB: '10',
  });
  await waitForHttp(`http://localhost:${port}/healthz`, again, 90_000);
  await again.stop();
});
