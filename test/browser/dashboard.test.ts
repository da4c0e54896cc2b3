import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { startStack } from '../support/stack.ts';
import { eventually } from '../support/app.ts';
import { launchChromium, SCREENSHOTS, signInPage } from '../support/chromium.ts';
import { provisionedResource, seededSourceServer } from '../support/factories.ts';
import { addBigTable } from '../support/seed-source.ts';
import { startThrottlingProxy } from '../support/throttling-proxy.ts';
import { setDirectSource } from '../../src/backups/sources.repo.ts';
import { findBackup } from '../../src/backups/backups.repo.ts';

// The dashboard as a customer uses it, in headless Chromium: sign in through Heroku's SSO form, capture,
// watch the backup page update itself while pg_dump runs, search the contents, download through a link
// and check its digest, schedule in another time zone, revoke the link, and cancel a running backup.
const stack = await startStack();
const { app } = stack;
const db = app.runtime.pool;
const { server } = await seededSourceServer();
// Three tables of ~8 MB each, read through a proxy that passes 3 MB/s from the server: the dump lasts
// several seconds and moves from table to table, so both the progress bar and the log move while we watch.
await addBigTable(server, 'shop', 80_000);
await server.run(
  'shop',
  'create table public.big_2 as select * from public.big; create table public.big_3 as select * from public.big;',
);
const proxy = await startThrottlingProxy(server.cluster.port, 3_000_000);
after(() => proxy.close());
const sourceUrl = new URL(server.url('shop'));
sourceUrl.port = String(proxy.port);

const chromium = await launchChromium();
const { uuid } = await provisionedResource(stack);
await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl.toString(), 'admin@example.com');
// A zone other than the one the schedule is set in, so the page must not simply echo the browser's.
const BROWSER_ZONE = 'America/New_York';
const context = await chromium.newContext({
  timezoneId: BROWSER_ZONE,
  locale: 'en-US',
  viewport: { width: 1280, height: 900 },
});
after(() => context.close());
const consoleErrors: string[] = [];

/** The little of the page that evaluate() callbacks touch (this project's types have no DOM). */
interface InPage {
  __marker?: string;
  document: {
    getElementById(id: string): { value?: number; textContent: string | null } | null;
    querySelector(selector: string): { textContent: string | null } | null;
  };
}

test('a customer captures a backup and watches it run live, then searches it, downloads it, schedules backups and revokes the link', async () => {
  const page = await signedInPage(context);
  assert.match(await page.locator('main').innerText(), /No backups exist yet/);
  await shot(page, 'dashboard-empty');

  // Capture now leads to the backup's own page.
  await Promise.all([
    page.waitForURL(/\/backups\/[0-9a-f-]{36}$/),
    page.getByRole('button', { name: 'Capture now' }).click(),
  ]);
  const backupUrl = page.url();
  const backupId = backupUrl.split('/').pop()!;

  // The page reloads itself when the state changes (queued → running brings the run's facts); from
  // then on it must update in place: a marker on window survives only as long as the document does.
  await page.locator('h1 .badge', { hasText: 'running' }).waitFor({ timeout: 30_000 });
  let navigations = 0;
  page.on('framenavigated', (frame) => {
    if (frame === page.mainFrame()) navigations += 1;
  });
  await page.evaluate(() => {
    (globalThis as unknown as InPage).__marker = 'same document';
  });
  const samples: Array<{ progress: number; log: number; state: string; navigations: number }> = [];
  let running = false;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    const sample = await page
      .evaluate(() => ({
        marker: (globalThis as unknown as InPage).__marker ?? null,
        progress: (globalThis as unknown as InPage).document.getElementById('progress')?.value ?? null,
        log: (globalThis as unknown as InPage).document.getElementById('log')?.textContent?.length ?? 0,
        state: (globalThis as unknown as InPage).document.querySelector('h1 .badge')?.textContent ?? '',
      }))
      .catch(() => null); // the page reloads itself once the backup ends
    if (!sample || sample.marker !== 'same document' || sample.progress === null) break;
    samples.push({ progress: sample.progress, log: sample.log, state: sample.state, navigations });
    if (!running && sample.progress > 0) {
      running = true;
      await shot(page, 'backup-running');
    }
    await page.waitForTimeout(200);
  }
  const increases = (key: 'progress' | 'log') =>
    samples.filter((s, i) => i > 0 && s[key] > samples[i - 1]![key]).length;
  const summary = samples.map((s) => `${s.state} ${s.progress} ${s.log}`).join('\n');
  assert.ok(increases('progress') >= 2, `the progress bar advanced at least twice in place:\n${summary}`);
  assert.ok(increases('log') >= 2, `the log grew at least twice in place:\n${summary}`);
  assert.ok(
    samples.every((s) => s.navigations === 0),
    'no navigation while the backup ran',
  );
  assert.ok(
    samples.some((s) => s.state === 'running'),
    'the badge showed the backup running',
  );

  // It reloads once by itself when the backup ends, showing the finished page.
  await page.locator('h1 .badge', { hasText: 'completed and verified' }).waitFor({ timeout: 60_000 });
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as InPage).__marker ?? null),
    null,
    'the finished page is a new document',
  );
  assert.equal(page.url(), backupUrl);
  const digest = (await page.locator('code.digest').innerText()).trim();
  assert.match(digest, /^[0-9a-f]{64}$/);
  assert.equal(digest, (await findBackup(db, backupId))!.sha256);
  assert.match(await page.locator('main').innerText(), /read back, digest matched/);
  await page.locator('figure.chart').waitFor();
  await shot(page, 'backup-finished');

  // The contents list the seeded tables; the search box narrows them.
  const names = () => page.locator('table.contents tbody tr td:nth-child(3)').allInnerTexts();
  const everything = await names();
  for (const table of ['customers', 'big', 'big_2', 'orders', 'Ñandú ☃'])
    assert.ok(everything.includes(table), `contents list ${table}`);
  await page.getByRole('searchbox').fill('orders');
  await Promise.all([page.waitForURL(/[?&]q=orders/), page.getByRole('searchbox').press('Enter')]);
  const narrowed = await names();
  assert.ok(
    narrowed.includes('orders') && narrowed.includes('orders_id_seq'),
    `the table and its sequence are found: ${narrowed.join(', ')}`,
  );
  assert.ok(!narrowed.includes('customers') && !narrowed.includes('big'), 'other tables are not');
  assert.ok(narrowed.length < everything.length);
  assert.equal(await page.getByRole('searchbox').inputValue(), 'orders');
  await page.locator('#contents').scrollIntoViewIfNeeded();
  await shot(page, 'backup-contents-search');

  // A download link, shown once; its bytes are the archive the page's digest describes.
  await page.locator('select[name="expires_in_seconds"]').selectOption('900');
  await Promise.all([
    page.waitForURL(`${backupUrl}/links`),
    page.getByRole('button', { name: 'Create download link' }).click(),
  ]);
  const linkUrl = await page.locator('#new-link').inputValue();
  assert.match(linkUrl, new RegExp(`^${app.url}/`));
  assert.match(
    await page.locator('#restore pre').first().innerText(),
    new RegExp(`heroku pg:backups:restore '${escapeRegExp(linkUrl)}' DATABASE_URL`),
  );
  await shot(page, 'backup-new-link');
  const downloaded = await fetch(linkUrl);
  assert.equal(downloaded.status, 200);
  assert.equal(
    createHash('sha256')
      .update(Buffer.from(await downloaded.arrayBuffer()))
      .digest('hex'),
    digest,
    'the download has the digest the page shows',
  );

  // Settings: a daily schedule in India, from a browser in New York.
  await Promise.all([
    page.waitForURL(`${app.url}/settings`),
    page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Settings' }).click(),
  ]);
  const zone = page.getByLabel('Time zone');
  assert.equal(await zone.inputValue(), BROWSER_ZONE, "a new schedule starts in the browser's zone");
  await page.getByLabel('Frequency').selectOption('daily');
  await page.getByLabel('Hour (daily)').fill('2');
  await page.getByLabel('Minute').fill('30');
  await zone.fill('');
  await zone.pressSequentially('Asia/Kolkata');
  await Promise.all([
    page.waitForURL(/\/settings\?notice=schedule-saved$/),
    page.getByRole('button', { name: 'Save schedule' }).click(),
  ]);
  assert.equal((await page.getByRole('status').innerText()).trim(), 'Schedule saved.');
  const schedule = await page.locator('#schedule > p').first().innerText();
  assert.match(schedule, /Backups run daily at 02:30, Asia\/Kolkata time\./);
  // 02:30 in Kolkata is 21:00 UTC the day before: 16:00 or 17:00 in New York, as the browser shows it.
  assert.match(schedule, /Next: .*\b(4|5):00\sPM/);
  assert.equal(await zone.inputValue(), 'Asia/Kolkata', 'the form shows the saved zone');
  await shot(page, 'settings-schedule-saved');

  // Revoke the link from the backup page; the form asks first.
  await page.goto(backupUrl);
  const dialogs: string[] = [];
  page.once('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  const linksTable = page.locator('#restore table.list');
  assert.equal(await linksTable.locator('.badge').innerText(), 'active');
  await Promise.all([
    page.waitForURL(`${backupUrl}#links`),
    linksTable.getByRole('button', { name: 'Revoke' }).click(),
  ]);
  assert.deepEqual(dialogs, ['Revoke this link? Anyone holding it can no longer download.']);
  await linksTable.locator('.badge', { hasText: 'revoked' }).waitFor();
  assert.equal((await fetch(linkUrl)).status, 410, 'a revoked link is refused');

  // The list and the audit log tell the story.
  await Promise.all([
    page.waitForURL(`${app.url}/dashboard`),
    page.getByRole('navigation', { name: 'Sections' }).getByRole('link', { name: 'Backups' }).click(),
  ]);
  const row = page.locator('table.list tbody tr', { hasText: 'b001' });
  assert.match(await row.innerText(), /manual\s+completed and verified/);
  await shot(page, 'dashboard-list');
  await Promise.all([page.waitForURL(`${app.url}/audit`), page.getByRole('link', { name: 'Audit log' }).click()]);
  const audit = await page.locator('table.list').innerText();
  for (const action of [
    'user.signed_in',
    'backup.requested',
    'backup.completed',
    'link.created',
    'link.used',
    'schedule.set',
    'link.revoked',
  ]) {
    assert.ok(audit.includes(action), `the audit log shows ${action}`);
  }
  await shot(page, 'audit-log');
  assert.deepEqual(consoleErrors, [], 'no console errors (CSP violations among them)');
  await page.close();
});

test('canceling a running backup asks first: dismissing keeps it running, accepting cancels it', async () => {
  const page = await signedInPage(context);
  // The previous backup's job is marked done a moment after its row; until then Capture now waits.
  await eventually(
    async () => {
      await page.goto(`${app.url}/dashboard`);
      return !(await page.getByRole('button', { name: 'Capture now' }).isDisabled());
    },
    { what: 'Capture now to be enabled' },
  );
  await Promise.all([
    page.waitForURL(/\/backups\/[0-9a-f-]{36}$/),
    page.getByRole('button', { name: 'Capture now' }).click(),
  ]);
  const backupId = page.url().split('/').pop()!;
  await page.locator('#phase', { hasText: 'dumping' }).waitFor({ timeout: 20_000 });
  await page.evaluate(() => {
    (globalThis as unknown as InPage).__marker = 'same document';
  });

  const dialogs: string[] = [];
  page.once('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  await page.getByRole('button', { name: 'Cancel backup' }).click();
  assert.deepEqual(dialogs, ['Cancel backup b002? pg_dump is stopped and nothing is kept.']);
  await page.waitForTimeout(500);
  assert.equal(
    await page.evaluate(() => (globalThis as unknown as InPage).__marker),
    'same document',
    'dismissing does not submit',
  );
  const stillRunning = (await findBackup(db, backupId))!;
  assert.equal(stillRunning.state, 'running');
  assert.equal(stillRunning.cancelRequestedAt ?? null, null);

  page.once('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.accept();
  });
  await page.getByRole('button', { name: 'Cancel backup' }).click();
  await page.locator('h1 .badge', { hasText: 'canceled' }).waitFor({ timeout: 30_000 });
  assert.equal(dialogs.length, 2);
  assert.equal((await findBackup(db, backupId))!.state, 'canceled');
  assert.match(await page.locator('#log').innerText(), /attempt 1 failed/);
  assert.equal(await page.locator('#restore').count(), 0, 'a canceled backup offers no download');
  await shot(page, 'backup-canceled');
  assert.deepEqual(consoleErrors, [], 'no console errors (CSP violations among them)');
  await page.close();
});

/** A page signed in to the resource's dashboard, collecting console errors. */
async function signedInPage(browserContext: BrowserContext): Promise<Page> {
  const page = await browserContext.newPage();
  page.on('console', (message) => {
    if (message.type() === 'error') consoleErrors.push(`${page.url()}: ${message.text()}`);
  });
  await signInPage(stack, page, uuid);
  return page;
}

function shot(page: Page, name: string): Promise<Buffer> {
  return page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-flow-${name}.png`), fullPage: true });
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
