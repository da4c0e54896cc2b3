import test from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { apiCall, startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { signedInBrowser, signedInResource } from '../../support/factories.ts';
import { startSmtpServer, startWebhookReceiver } from '../../support/notify-receivers.ts';
import { insertWebhook, SEALED_WEBHOOK_SECRET } from '../../../src/notifications/webhooks.repo.ts';

// The notification settings through the API and the dashboard, on two deployments: one as the tests run
// (loopback allowed, so a receiver on this machine can be used), one as production runs (https only,
// never our own network).
const smtp = await startSmtpServer();
const receiver = await startWebhookReceiver();
const open = await startStack({ env: { SMTP_URL: smtp.url } });
const production = await startStack({ env: { NODE_ENV: 'production', ALLOW_PRIVATE_DATABASE_HOSTS: 'false' } });

interface Overview {
  email: {
    available: boolean;
    enabled: boolean;
    recipients: string[] | null;
    defaultRecipients: string[];
    events: string[];
  };
  logStream: { available: boolean; enabled: boolean; events: string[] };
  webhooks: Array<{ id: string; url: string; events: string[] }>;
  deliveries: Array<{
    kind: string;
    channel: string;
    state: string;
    attempts: number;
    lastStatus: number | null;
    lastError: string | null;
  }>;
}

async function adminOf(stack: typeof open) {
  const { uuid, browser } = await signedInResource(stack);
  const csrf = await browser.csrfToken();
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await apiCall(stack.app.url, method, path, {
      browser,
      csrf,
      ...(body === undefined ? {} : { body }),
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
  };
  return { uuid, browser, call };
}

test('the API lists the channels, adds a webhook answering its secret once, sends a test and logs the deliveries', async () => {
  const { call } = await adminOf(open);
  const before = (await call('GET', '/notifications')).body as unknown as Overview;
  assert.equal(before.email.available, true);
  assert.equal(before.email.enabled, true);
  assert.equal(before.email.recipients, null);
  assert.equal(before.email.defaultRecipients.length, 1, 'the admin who signed in');
  assert.equal(before.logStream.available, true, 'Heroku sent a log_input_url');
  assert.ok(before.email.events.includes('backup.failed'));
  assert.deepEqual(before.webhooks, []);

  const created = await call('POST', '/notifications/webhooks', {
    url: `${receiver.url}/api-hook/with/a/long/secret/path`,
    events: ['backup.failed', 'backups.stale'],
  });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  const secret = created.body.secret as string;
  assert.match(secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  const webhook = created.body.webhook as { id: string; events: string[] };
  assert.deepEqual(webhook.events, ['backup.failed', 'backups.stale']);

  const bad = await call('POST', '/notifications/webhooks', { url: `${receiver.url}/x`, events: ['backup.exploded'] });
  assert.equal(bad.status, 422);
  assert.match(bad.body.message as string, /"backup\.exploded" is not an event/);

  const settings = await call('PUT', '/notifications', {
    email: { enabled: true, recipients: ['ops@example.com', 'dba@example.com'], events: ['backup.failed'] },
    logStream: { enabled: false, events: [] },
  });
  assert.equal(settings.status, 200, JSON.stringify(settings.body));
  const after = settings.body as unknown as Overview;
  assert.deepEqual(after.email.recipients, ['ops@example.com', 'dba@example.com']);
  assert.equal(after.logStream.enabled, false);
  assert.ok(!JSON.stringify(after).includes(secret), 'the secret is never shown again');
  assert.match(after.webhooks[0]!.url, /^http:\/\/127\.0\.0\.1:\d+\/api-hook\/wi…$/, 'the URL is shown masked');

  const sent = await call('POST', '/notifications/test');
  assert.equal(sent.status, 202);
  assert.equal(sent.body.deliveries, 2, 'email and the webhook; the log stream is off');
  const log = await eventually(
    async () => {
      const overview = (await call('GET', '/notifications')).body as unknown as Overview;
      return overview.deliveries.length === 2 && overview.deliveries.every((d) => d.state === 'sent')
        ? overview.deliveries
        : undefined;
    },
    { timeoutMs: 30_000, what: 'both test deliveries sent' },
  );
  assert.deepEqual(log.map((d) => [d.kind, d.channel, d.state, d.attempts]).sort(), [
    ['test', 'email', 'sent', 1],
    ['test', 'webhook', 'sent', 1],
  ]);
  assert.equal(log.find((d) => d.channel === 'webhook')!.lastStatus, 200);
  assert.equal(log.find((d) => d.channel === 'email')!.lastStatus, 250);
  const mail = smtp.messages.find((m) => m.raw.includes('a test notification'))!;
  assert.deepEqual(mail.to, ['ops@example.com', 'dba@example.com']);

  assert.equal((await call('DELETE', `/notifications/webhooks/${webhook.id}`)).status, 204);
  assert.equal((await call('DELETE', `/notifications/webhooks/${webhook.id}`)).status, 404);
  assert.equal((await call('DELETE', '/notifications/webhooks/not-a-uuid')).status, 404);
});

test('only admins change notifications; members may look', async () => {
  const { uuid } = await adminOf(open);
  const member = await signedInBrowser(open, uuid, `member-${randomUUID()}@example.com`);
  const csrf = await member.csrfToken();
  const asMember = (method: string, path: string, body?: unknown) =>
    apiCall(open.app.url, method, path, { browser: member, csrf, ...(body === undefined ? {} : { body }) });
  assert.equal((await asMember('GET', '/notifications')).status, 200);
  assert.equal((await asMember('POST', '/notifications/test')).status, 403);
  assert.equal((await asMember('POST', '/notifications/webhooks', { url: `${receiver.url}/m` })).status, 403);
  const page = await (await member.request('GET', '/settings/notifications')).text();
  assert.match(page, /only an admin of this add-on can change them/);
  assert.doesNotMatch(page, /id="send-test"/);
  assert.equal((await member.submit('/settings/notifications/test')).status, 403);
});

test('API writes need the CSRF token when made with the session', async () => {
  const { browser } = await adminOf(open);
  const response = await apiCall(open.app.url, 'POST', '/notifications/test', { browser });
  assert.equal(response.status, 403);
  assert.equal(((await response.json()) as { code: string }).code, 'csrf_failed');
});

test('the settings page shows the channels, adds a webhook showing its secret once, sends a test and shows the log', async () => {
  const { browser } = await adminOf(open);
  const page = await (await browser.request('GET', '/settings/notifications')).text();
  for (const part of ['id="channels-form"', 'id="webhook-form"', 'id="send-test"', 'Delivery log', 'Nothing sent yet.'])
    assert.ok(page.includes(part), part);

  const saved = await browser.submit('/settings/notifications', {
    emailEnabled: 'on',
    recipients: 'team@example.com',
    emailEvents: 'backup.failed',
    logStreamEnabled: 'on',
    logStreamEvents: 'backup.completed',
  });
  assert.equal(saved.status, 303);
  assert.equal(saved.headers.get('location'), '/settings/notifications?notice=saved');

  const added = await browser.submit('/settings/notifications/webhooks', {
    url: `${receiver.url}/page-hook`,
    events: 'test',
  });
  assert.equal(added.status, 422, 'test is not an event one subscribes to');
  const added2 = await browser.submit('/settings/notifications/webhooks', { url: `${receiver.url}/page-hook` });
  assert.equal(added2.status, 200);
  const withSecret = await added2.text();
  assert.match(withSecret, /id="webhook-secret"/);
  const secret = /<code class="secret">(whsec_[^<]+)<\/code>/.exec(withSecret)![1]!;
  const reloaded = await (await browser.request('GET', '/settings/notifications')).text();
  assert.ok(!reloaded.includes(secret), 'shown once');

  const tested = await browser.submit('/settings/notifications/test');
  assert.equal(tested.status, 200);
  assert.match(await tested.text(), /Test sent to 3 channels/);
  await eventually(
    async () => {
      const html = await (await browser.request('GET', '/settings/notifications')).text();
      return (html.match(/class="delivery-sent"/g) ?? []).length === 3;
    },
    { timeoutMs: 30_000, what: 'three sent rows in the delivery log' },
  );
});

test('in production, a webhook to http or to our own network is refused at save with 422', async () => {
  const { call, browser } = await adminOf(production);
  const refused = async (url: string, pattern: RegExp) => {
    const answer = await call('POST', '/notifications/webhooks', { url });
    assert.equal(answer.status, 422, `${url}: ${JSON.stringify(answer.body)}`);
    assert.match(answer.body.message as string, pattern, url);
    assert.doesNotMatch(answer.body.message as string, /127\.0\.0\.1|::1|10\.1\.2\.3/, 'no address named');
  };
  await refused('http://hooks.example.com/x', /must start with https:\/\//);
  await refused('https://127.0.0.1/x', /loopback address/);
  await refused('https://localhost/x', /loopback address/);
  await refused('https://2130706433/x', /loopback address/);
  await refused('https://[::1]/x', /loopback address/);
  await refused('https://10.1.2.3/x', /private address/);
  await refused('https://169.254.169.254/latest/meta-data', /link-local address/);
  await refused('https://user:pw@hooks.example.com/x', /no user name or password/);
  const form = await browser.submit('/settings/notifications/webhooks', { url: 'https://192.168.1.5/hook' });
  assert.equal(form.status, 422);
  assert.match(await form.text(), /private address/);
  assert.deepEqual(((await call('GET', '/notifications')).body as unknown as Overview).webhooks, []);
});

test('in production, a webhook whose host now leads to our network is refused at delivery, without a request', async () => {
  const { uuid, call } = await adminOf(production);
  // Saved while its name resolved elsewhere (or before the rule): only the delivery's own check stands.
  const id = randomUUID();
  const port = new URL(receiver.url).port;
  await insertWebhook(production.app.runtime.pool, {
    id,
    resourceId: uuid,
    url: `https://127.0.0.1:${port}/rebound`,
    events: ['backup.failed'],
    secretCiphertext: production.app.runtime.secrets.seal('whsec_x', id, SEALED_WEBHOOK_SECRET),
    createdBy: 'x',
  });
  const before = receiver.requests.length;
  assert.equal((await call('POST', '/notifications/test')).status, 202);
  const delivery = await eventually(
    async () =>
      ((await call('GET', '/notifications')).body as unknown as Overview).deliveries.find(
        (d) => d.channel === 'webhook' && d.state !== 'pending',
      ),
    { timeoutMs: 30_000, what: 'the webhook delivery to end' },
  );
  assert.equal(delivery.state, 'failed');
  assert.equal(delivery.attempts, 1, 'a refusal is not retried');
  assert.equal(delivery.lastStatus, null);
  assert.match(delivery.lastError!, /loopback address/);
  assert.equal(receiver.requests.length, before, 'nothing was sent');
});
