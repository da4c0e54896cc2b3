import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import type { Stack } from './stack.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where browser tests save screenshots for a person to look at. */
export const SCREENSHOTS = path.join(ROOT, 'test-output', 'screenshots');

/**
 * Launches Debian's Chromium headless (installed by .ci/run). As root it needs --no-sandbox, and on
 * this closed network the background-networking flags keep it from trying to reach Google.
 */
export async function launchChromium(): Promise<Browser> {
  const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
  if (!existsSync(executablePath))
    throw new Error(`Chromium not found at ${executablePath}: apt-get install chromium (or set CHROMIUM_PATH)`);
  mkdirSync(SCREENSHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  after(() => browser.close());
  return browser;
}

let lastSignInSecond = 0;

/**
 * Signs `page` in to the resource's dashboard the way Heroku's dashboard does it: its SSO page
 * auto-posts a form (cross-site, from an opaque origin) to our sso_url. Resolves on the dashboard.
 */
export async function signInPage(stack: Pick<Stack, 'app' | 'sim'>, page: Page, uuid: string): Promise<void> {
  const { app, sim } = stack;
  // Heroku's token is a digest of the resource, the salt and the second: two sign-ins within one second
  // would post the same token, which the app refuses as a replay, as it should.
  while (Math.floor(Date.now() / 1000) === lastSignInSecond) await new Promise((resolve) => setTimeout(resolve, 50));
  lastSignInSecond = Math.floor(Date.now() / 1000);
  const form = sim.ssoForm(uuid, { timestamp: lastSignInSecond });
  const attribute = (value: string) => value.replaceAll('&', '&amp;').replaceAll('"', '&quot;').replaceAll('<', '&lt;');
  await page.setContent(
    `<form method="post" action="${app.url}/sso/login">${Object.entries(form.params)
      .map(([k, v]) => `<input type="hidden" name="${attribute(k)}" value="${attribute(v)}">`)
      .join('')}</form>`,
  );
  await Promise.all([
    page.waitForURL(`${app.url}/dashboard`, { timeout: 15_000 }).catch((error: Error) => {
      throw new Error(
        `${error.message}\nthe app logged: ${app.logs.lines.filter((l) => l.includes('single sign-on')).join('\n')}`,
      );
    }),
    page.locator('form').evaluate((f) => (f as unknown as { submit(): void }).submit()),
  ]);
  await page.getByRole('heading', { level: 1 }).waitFor();
}
