import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { startStack, apiCall } from '../support/stack.ts';
import { eventually } from '../support/app.ts';
import { launchChromium, SCREENSHOTS, signInPage } from '../support/chromium.ts';
import { backupIn, CONNECT_CLIENT, connectClientEnv, connectedResource } from '../support/factories.ts';
import { startSourceServer, seedSourceDatabase, addBigTable } from '../support/seed-source.ts';
import { requestBackup } from '../../src/backups/backups.service.ts';
import { findBackup } from '../../src/backups/backups.repo.ts';
import { latestDrill } from '../../src/backups/drills.repo.ts';

// Issue 15 in Chromium: a backup's page shows its restore drill ("Restored on … in …: N of N tables
// equal") and the list a drill badge; "Re-check now" re-reads the stored archive, and one whose bytes
// changed is shown corrupt. Screenshots go to test-output/screenshots/drill-*.png.
const server = await startSourceServer();
after(() => server.stop());
const stack = await startStack({
  sim: { oauthClients: [CONNECT_CLIENT], postgres: { adminUrl: server.url('postgres') }, forkReadyAfterMs: 200 },
  env: { ...connectClientEnv, FORK_POLL_INTERVAL_SECONDS: '0.2', FORK_READY_TIMEOUT_SECONDS: '20' },
});
const { app } = stack;
const db = app.runtime.pool;
const archiveRoot = fileURLToPath(app.config.STORAGE_URL!);
const chromium = await launchChromium();
const context = await chromium.newContext({ locale: 'en-US', viewport: { width: 1280, height: 900 } });
after(() => context.close());

const shot = (page: Page, name: string) =>
  page.screenshot({ path: path.join(SCREENSHOTS, `drill-${name}.png`), fullPage: true });

test('the backup page shows the restore drill and the re-check, the list a drill badge, and a changed archive shows corrupt', async () => {
  const databaseUrl = await seedSourceDatabase(server, 'browser_prod');
  await addBigTable(server, 'browser_prod', 20_000);
  const r = await connectedResource(stack, { databaseUrl, owner: `browser-owner-${Date.now()}@example.com` });
  const set = await apiCall(app.url, 'PUT', '/drills', {
    browser: r.browser,
    csrf: await r.browser.csrfToken(),
    body: { policy: 'weekly', target_plan: 'standard-0' },
  });
  assert.equal(set.status, 200, await set.clone().text());
  const requested = (await requestBackup({ pool: db, boss: app.boss }, r.uuid, {
    trigger: 'manual',
    requestedBy: r.owner,
  }))!;
  const done = await backupIn(db, requested.id, { timeoutMs: 90_000 });
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);
  const drill = await eventually(
    async () => {
      const d = await latestDrill(db, done.id);
      return d && d.state !== 'running' ? d : undefined;
    },
    { timeoutMs: 60_000, what: 'the drill to end' },
  );
  assert.equal(drill.state, 'passed');

  const page = await context.newPage();
  await signInPage(stack, page, r.uuid);
  const badge = page.locator(`tr:has(a[href="/backups/${done.id}"]) [data-drill]`);
  assert.equal(await badge.innerText(), 'restore drill passed');
  await shot(page, 'list-badge');

  await page.goto(`${app.url}/backups/${done.id}`);
  const summary = await page.locator('#drill-summary').innerText();
  assert.match(
    summary,
    new RegExp(`^Restored on .+ in .+: ${drill.tablesCompared} of ${drill.tablesCompared} tables equal\\.$`),
  );
  assert.match(await page.locator('#recheck-last').innerText(), /Not re-checked since it was verified/);
  await shot(page, 'backup-passed');

  await page.getByRole('button', { name: 'Re-check now' }).click();
  await page.waitForURL(/notice=recheck/);
  assert.match(await page.locator('#recheck').innerText(), /A re-check was asked for/);
  await eventually(async () => (await findBackup(db, done.id))?.recheckedAt ?? undefined, { what: 'the re-check' });
  await page.reload();
  assert.match(await page.locator('#recheck-last').innerText(), /SHA-256 matched/);
  await shot(page, 'rechecked');

  // Silent corruption in the store: one bit of the stored archive flips.
  const file = path.join(archiveRoot, done.objectKey!);
  const bytes = await readFile(file);
  bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
  await writeFile(file, bytes);
  await page.getByRole('button', { name: 'Re-check now' }).click();
  await page.waitForURL(/notice=recheck/);
  await eventually(async () => (await findBackup(db, done.id))?.state === 'corrupt' || undefined, {
    what: 'the backup to be found corrupt',
  });
  await page.goto(`${app.url}/backups/${done.id}`);
  assert.match(await page.locator('#corrupt').innerText(), /Corrupt: a re-check .+SHA-256/);
  assert.equal(await page.locator('#restore').count(), 0, 'no download for a corrupt backup');
  await shot(page, 'corrupt');
  await page.goto(`${app.url}/dashboard`);
  assert.match(await page.locator(`tr:has(a[href="/backups/${done.id}"])`).innerText(), /archive failed a re-check/);
  await shot(page, 'list-corrupt');
  await page.close();
});
