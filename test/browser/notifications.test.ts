import test from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startStack } from '../support/stack.ts';
import { eventually } from '../support/app.ts';
import { launchChromium, SCREENSHOTS, signInPage } from '../support/chromium.ts';
import { startSmtpServer, startWebhookReceiver } from '../support/notify-receivers.ts';

// Settings -> Notifications in a real browser: the channels, adding a webhook (its secret shown once),
// sending a test to every channel and watching the delivery log fill.
const smtp = await startSmtpServer();
const receiver = await startWebhookReceiver();
const stack = await startStack({ env: { SMTP_URL: smtp.url } });
const browser = await launchChromium();
const shot = (page: import('playwright-core').Page, name: string) =>
  page.screenshot({ path: path.join(SCREENSHOTS, `notifications-${name}.png`), fullPage: true });

test('an admin sees the channels, adds a webhook, sends a test and watches the delivery log', async () => {
  const context = await browser.newContext();
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  const outcome = await stack.sim.provision({ plan: 'standard' });
  await signInPage(stack, page, outcome.uuid);
  await page.getByRole('link', { name: 'Notifications' }).click();
  await page.getByRole('heading', { name: 'Notifications', level: 1 }).waitFor();
  assert.ok(await page.getByLabel('Send email').isChecked());
  assert.ok(await page.getByLabel('Write to the log stream').isChecked());
  assert.match(await page.locator('#deliveries').innerText(), /Nothing sent yet/);
  await shot(page, 'channels');

  await page.locator('#webhook-form input[name=url]').fill(`${receiver.url}/browser-hook`);
  await page.getByRole('button', { name: 'Add webhook' }).click();
  const secret = page.locator('#webhook-secret code.secret');
  await secret.waitFor();
  assert.match(await secret.innerText(), /^whsec_/);
  await shot(page, 'webhook-secret');

  await page.getByRole('button', { name: 'Send a test to every channel' }).click();
  await page.getByText(/Test sent to 3 channels/).waitFor();
  await eventually(
    async () => {
      await page.goto(`${stack.app.url}/settings/notifications`);
      return (await page.locator('#deliveries tr.delivery-sent').count()) === 3;
    },
    { timeoutMs: 30_000, what: 'three sent deliveries in the log' },
  );
  const log = await page.locator('#deliveries').innerText();
  assert.match(log, /email/);
  assert.match(log, /log stream/);
  assert.match(log, /127\.0\.0\.1/);
  await shot(page, 'delivery-log');
  assert.equal(receiver.requests.length, 1);
  assert.equal(smtp.messages.length, 1);
  assert.equal(stack.sim.logLines().filter((line) => /a test notification/.test(line.message)).length, 1);
  assert.deepEqual(errors, [], 'no console errors (CSP violations among them)');
  await context.close();
});
