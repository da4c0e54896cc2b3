import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../support/stack.ts';
import { launchChromium, SCREENSHOTS, signInPage } from '../support/chromium.ts';
import { provisionedResource } from '../support/factories.ts';
import { startSourceServer } from '../support/seed-source.ts';
import { RISKY, seedRiskyDatabase } from '../support/risky-database.ts';
import { setDirectSource } from '../../src/backups/sources.repo.ts';

// The pre-flight report as a customer reaches it in Chromium: the Pre-flight tab, Check now, the
// findings by severity, and the dashboard's one-line summary linking back to it.
const server = await startSourceServer();
after(() => server.stop());
const stack = await startStack({ worker: false });
const { app } = stack;
const riskyUrl = await seedRiskyDatabase(server, 'risky');
const chromium = await launchChromium();

test('an admin runs the pre-flight check and reads the findings, then sees the summary on the dashboard', async () => {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  await setDirectSource(app.runtime.pool, app.runtime.secrets, uuid, riskyUrl, 'admin@example.com');
  const context = await chromium.newContext({ locale: 'en-US', viewport: { width: 1280, height: 1100 } });
  after(() => context.close());
  const page = await context.newPage();
  await signInPage(stack, page, uuid);

  await page.getByRole('link', { name: 'Pre-flight' }).click();
  await page.waitForURL(`${app.url}/preflight`);
  assert.match(await page.locator('main').innerText(), /No report yet/);
  await Promise.all([page.waitForURL(`${app.url}/preflight`), page.getByRole('button', { name: 'Check now' }).click()]);
  const findings = page.locator('li.finding');
  await findings.first().waitFor();
  const warnings = await page.locator('li.finding-warning .title').allInnerTexts();
  assert.ok(
    warnings.some((t) => t.startsWith(`${RISKY.tenantSchemas + 1} schemas`)),
    warnings.join('\n'),
  );
  assert.ok(warnings.some((t) => /^200 large objects/.test(t)));
  assert.ok(warnings.some((t) => /heroku_ext/.test(t)));
  assert.match(await page.locator('li[data-code="unlogged_tables"]').innerText(), /sessions_cache[\s\S]*SET LOGGED/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'preflight-report.png'), fullPage: true });

  await page.getByRole('link', { name: 'Backups' }).click();
  await page.waitForURL(`${app.url}/dashboard`);
  const summary = page.locator('.preflight-summary');
  assert.match(await summary.innerText(), /pre-flight\s+3 warnings · checked .* · see the report/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'preflight-dashboard-summary.png') });
  await summary.getByRole('link', { name: 'see the report' }).click();
  await page.waitForURL(`${app.url}/preflight`);
});
