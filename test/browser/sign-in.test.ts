import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../support/stack.ts';
import { launchChromium, SCREENSHOTS, signInPage } from '../support/chromium.ts';

// Heroku's SSO is a cross-site form post (here from a page with an opaque origin), so this checks in a
// real browser that the SameSite=Lax session cookie is set by it and sent on the redirect that follows.
const stack = await startStack();
const { app, sim } = stack;
const appUrl = app.url;
const browser = await launchChromium();

test("a person arriving by Heroku's cross-site SSO form post lands signed in on the dashboard, then signs out", async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  const outcome = await sim.provision({ plan: 'premium' });
  // The simulator's SSO page auto-posts the form to the provider's sso_url.
  await signInPage(stack, page, outcome.uuid);
  assert.match(await page.locator('main').innerText(), /Premium/);
  assert.match(await page.locator('main').innerText(), /No backups exist yet/);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'dashboard-after-sso.png'), fullPage: true });
  const cookie = (await context.cookies(appUrl)).find((c) => c.name === 'big-backup.sid');
  assert.ok(cookie?.httpOnly);
  assert.equal(cookie?.sameSite, 'Lax');

  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { name: 'Signed out' }).waitFor();
  const after = await page.goto(`${appUrl}/dashboard`);
  assert.equal(after?.status(), 401);
  await page.screenshot({ path: path.join(SCREENSHOTS, 'signed-out.png'), fullPage: true });
  assert.deepEqual(
    errors.filter((e) => !e.includes('401')),
    [],
    'no console errors (CSP violations among them)',
  );
  await context.close();
});
