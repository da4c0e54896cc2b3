import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, createWriteStream, existsSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import pg from 'pg';
import type { Page } from 'playwright-core';
import { freePort } from '../../dev/db/local-cluster.ts';
import { databaseUrl, testServerUrl } from '../support/database.ts';
import { launchChromium, SCREENSHOTS } from '../support/chromium.ts';
import { runNpm, waitForHttp } from '../support/child-process.ts';
import { eventually } from '../support/app.ts';

// The README's first command tried as a newcomer would, in Chromium: `npm start` with no
// configuration, the simulator's demo page, "addons:create", "Open dashboard", "Connect Heroku",
// "Capture now" → a fork-based backup that completes and verifies, a download link, and the file
// restored with stock pg_restore. The demo database is smaller than npm start's default (250 MB)
// unless BIG_BACKUP_DEMO_DATA_MB says otherwise; its own data folder keeps the checkout's .data alone.
const run = promisify(execFile);
const parent = mkdtempSync(path.join(os.tmpdir(), 'bb-demo-'));
chmodSync(parent, 0o755); // as root, the embedded server runs as the postgres user
const port = await freePort();
const simPort = await freePort();
const base = `http://localhost:${port}`;
const sim = `http://127.0.0.1:${simPort}`;
const server = runNpm(['start'], {
  PORT: String(port),
  SIM_PORT: String(simPort),
  BIG_BACKUP_DATA_DIR: path.join(parent, 'data'),
  BIG_BACKUP_DEMO_DATA_MB: process.env.BIG_BACKUP_DEMO_DATA_MB ?? '40',
});
// Registered after runNpm's own hook, so it runs once npm start (and its PostgreSQL) has stopped.
after(() => rmSync(parent, { recursive: true, force: true }));
await waitForHttp(`${base}/healthz`, server, 240_000);
const chromium = await launchChromium();
const context = await chromium.newContext({ viewport: { width: 1280, height: 900 } });
after(() => context.close());

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(SCREENSHOTS, `demo-${name}.png`), fullPage: true });

test('from npm start alone: provision, sign in, connect Heroku, capture a fork-based backup, download it and restore it with pg_restore', async () => {
  const simPage = await context.newPage();
  await simPage.goto(`${sim}/`);
  const demoApp = simPage.locator('h2', { hasText: 'App demo-shop' });
  await demoApp.waitFor();
  assert.match(
    await simPage.locator('h2:has-text("App demo-shop") + p').innerText(),
    /DATABASE_URL/,
    'the demo app has a database attached',
  );
  await shot(simPage, 'simulator');

  await Promise.all([
    simPage.waitForURL(/flash=/),
    simPage.getByRole('button', { name: 'heroku addons:create big-backup' }).click(),
  ]);
  assert.match(await simPage.locator('.flash').innerText(), /→ provisioned/);
  await shot(simPage, 'provisioned');

  // "Open dashboard (SSO)" opens a tab whose form posts itself to our /sso/login.
  const [page] = await Promise.all([
    context.waitForEvent('page'),
    simPage.getByRole('button', { name: 'Open dashboard (SSO)' }).click(),
  ]);
  await page.waitForURL(`${base}/dashboard`);
  await shot(page, 'dashboard');

  await Promise.all([
    page.waitForURL(`${base}/settings/heroku`),
    page.getByRole('link', { name: 'Heroku connection' }).click(),
  ]);
  // The simulator approves as the demo app's owner and sends the browser back.
  await Promise.all([
    page.waitForURL(/\/settings\/heroku\?notice=connected$/),
    page.getByRole('link', { name: 'Connect Heroku' }).click(),
  ]);
  await shot(page, 'connected');

  await page.goto(`${base}/dashboard`);
  const started = Date.now();
  await Promise.all([
    page.waitForURL(/\/backups\/[0-9a-f-]{36}$/),
    page.getByRole('button', { name: 'Capture now' }).click(),
  ]);
  const backupUrl = page.url();
  await page
    .locator('h1 .badge', { hasText: 'completed and verified' })
    .waitFor({ timeout: 120_000 })
    .catch(async (error: unknown) => {
      // What the page and npm start said, so a failure here can be read without running it again.
      await shot(page, 'backup-not-verified');
      throw new Error(`the backup did not verify; npm start's last output:\n${server.output().slice(-6000)}`, {
        cause: error,
      });
    });
  const seconds = (Date.now() - started) / 1000;
  await shot(page, 'backup-verified');
  const main = await page.locator('main').innerText();
  assert.match(main, /Read from\s+a short-lived fork/);
  assert.match(main, /read back, digest matched/);
  const state = (await (await fetch(`${sim}/_sim/state`)).json()) as {
    apps: Array<{ name: string; configVars: Record<string, string> }>;
    addons: Array<{ id: string; appId: string; service: string; postgres: { forkOf: string | null } | null }>;
  };
  assert.ok(
    state.addons.some((a) => a.postgres?.forkOf),
    'the simulator made a fork',
  );

  await Promise.all([
    page.waitForURL(`${backupUrl}/links`),
    page.getByRole('button', { name: 'Create download link' }).click(),
  ]);
  const linkUrl = await page.locator('#new-link').inputValue();
  await shot(page, 'download-link');
  const archive = path.join(parent, 'demo.dump');
  const download = await fetch(linkUrl);
  assert.equal(download.status, 200);
  await pipeline(Readable.fromWeb(download.body!), createWriteStream(archive));

  // Stock pg_restore into a fresh database on the tests' server; the rows are the demo database's.
  const restored = `demo_restore_${process.pid}`;
  const admin = new pg.Client(testServerUrl());
  await admin.connect();
  await admin.query(`create database ${restored}`);
  await admin.end();
  after(async () => {
    const c = new pg.Client(testServerUrl());
    await c.connect();
    await c.query(`drop database if exists ${restored} with (force)`);
    await c.end();
  });
  const target = new URL(databaseUrl(restored));
  const pgRestore = path.join(process.env.BB_TEST_PG_BIN ?? '/usr/lib/postgresql/15/bin', 'pg_restore');
  await run(
    pgRestore,
    [
      '--no-owner',
      '--no-acl',
      '--exit-on-error',
      '-h',
      target.hostname,
      '-p',
      target.port,
      '-U',
      decodeURIComponent(target.username),
      '-d',
      restored,
      archive,
    ],
    {
      env: { ...process.env, PGPASSWORD: decodeURIComponent(target.password) },
    },
  );
  const demoUrl = state.apps.find((a) => a.name === 'demo-shop')!.configVars.DATABASE_URL!;
  const counts = async (url: string) => {
    const client = new pg.Client(url);
    await client.connect();
    try {
      return (
        await client.query(`select (select count(*) from shop.order_items) as items, (select count(*) from shop.orders) as orders,
        (select count(*) from analytics.events) as events, (select count(*) from pg_largeobject_metadata) as large_objects,
        (select count(*) from pg_inherits where inhparent = 'shop.orders'::regclass) as partitions`)
      ).rows[0] as Record<string, string>;
    } finally {
      await client.end();
    }
  };
  const expected = await counts(demoUrl);
  assert.ok(
    Number(expected.items) > 0 && Number(expected.partitions) > 1 && Number(expected.large_objects) > 0,
    JSON.stringify(expected),
  );
  assert.deepEqual(await counts(databaseUrl(restored)), expected);
  process.stdout.write(`# demo: capture to verified in ${seconds.toFixed(1)} s\n`);
});

test('npm start stops cleanly on SIGTERM, its PostgreSQL included', async () => {
  await server.stop();
  // npm exits at once; the process it started goes on stopping the simulator and the cluster.
  await eventually(async () => !existsSync(path.join(parent, 'data', 'postgres', 'postmaster.pid')), {
    timeoutMs: 30_000,
    what: 'the embedded PostgreSQL to stop',
  });
  assert.doesNotMatch(server.output(), /shutdown failed/);
});
