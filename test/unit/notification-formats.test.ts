import test from 'node:test';
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { signWebhook, verifyWebhookSignature, newWebhookSecret } from '../../src/notifications/webhook-signature.ts';
import { logplexBody, syslogFrame } from '../../src/notifications/syslog-frames.ts';
import { checkWebhookUrl, parseWebhookUrl, WebhookUrlRefused } from '../../src/notifications/webhook-url.ts';
import { summarize, webhookBody, type NotificationEvent } from '../../src/notifications/events.ts';

const subject = { appName: 'acme', addonName: 'big-backup-curved-1', dashboardUrl: 'https://bb.example/r/x' };
const event = (kind: NotificationEvent['kind'], payload: NotificationEvent['payload'] = {}): NotificationEvent => ({
  id: '42',
  resourceId: '01234567-89ab-cdef-0123-456789abcdef',
  kind,
  payload,
  occurredAt: new Date('2026-12-06T10:00:00Z'),
});

test('the webhook signature is HMAC-SHA256 of "<timestamp>.<body>" under the secret, as documented', () => {
  const body = '{"type":"test"}';
  const header = signWebhook('whsec_abc', 1_765_000_000, body);
  const expected = createHmac('sha256', 'whsec_abc').update(`1765000000.${body}`).digest('hex');
  assert.equal(header, `t=1765000000,v1=${expected}`);
  assert.equal(verifyWebhookSignature('whsec_abc', header, body, { now: 1_765_000_100 }), true);
  assert.equal(verifyWebhookSignature('whsec_abd', header, body, { now: 1_765_000_100 }), false, 'wrong secret');
  assert.equal(verifyWebhookSignature('whsec_abc', header, body + ' ', { now: 1_765_000_100 }), false, 'changed body');
  assert.equal(
    verifyWebhookSignature('whsec_abc', header.replace('t=1765000000', 't=1765000001'), body, { now: 1_765_000_100 }),
    false,
    'changed timestamp',
  );
  assert.equal(verifyWebhookSignature('whsec_abc', header, body, { now: 1_765_000_000 + 301 }), false, 'too old');
  assert.notEqual(newWebhookSecret(), newWebhookSecret());
});

test('log lines are octet-counted RFC 5424 frames: the count is the bytes of the message, not its characters', () => {
  const frame = syslogFrame(
    { at: new Date('2026-12-06T10:00:00.123Z'), message: 'backup b001 of café\ncompleted' },
    { token: 't.0123', procId: 'big-backup' },
  );
  const packet = '<190>1 2026-12-06T10:00:00.123Z t.0123 app big-backup - - backup b001 of café completed';
  assert.equal(frame, `${Buffer.byteLength(packet)} ${packet}`);
  assert.equal(Buffer.byteLength(packet), packet.length + 1, 'é is two bytes');
  const { body, count } = logplexBody(
    [
      { at: new Date(0), message: 'one' },
      { at: new Date(0), message: 'two' },
    ],
    { token: 't.1', procId: 'big-backup' },
  );
  assert.equal(count, 2);
  assert.match(body, /^\d+ <190>1 1970-01-01T00:00:00\.000Z t\.1 app big-backup - - one\d+ <190>1 .* two$/);
});

test('webhook URLs: https only when required, no credentials, our own network refused', async () => {
  const strict = { requireHttps: true, hosts: { allowPrivate: false } };
  assert.throws(() => parseWebhookUrl('http://hooks.example.com/x', strict), WebhookUrlRefused);
  assert.throws(() => parseWebhookUrl('ftp://hooks.example.com/x', { requireHttps: false }), WebhookUrlRefused);
  assert.throws(() => parseWebhookUrl('not a url', strict), WebhookUrlRefused);
  assert.equal(parseWebhookUrl('http://hooks.example.com/x', { requireHttps: false }).protocol, 'http:');
  const lookup = async () => [{ address: '10.0.0.7', family: 4 }];
  await assert.rejects(checkWebhookUrl('https://rebound.example/x', { ...strict, lookup }), /private address/);
  const publicLookup = async () => [{ address: '93.184.215.14', family: 4 }];
  const checked = await checkWebhookUrl('https://hooks.example.com/x#frag', { ...strict, lookup: publicLookup });
  assert.equal(checked.address, '93.184.215.14', 'the address to pin the connection to');
  assert.equal(checked.url.toString(), 'https://hooks.example.com/x');
  const loopback = { requireHttps: false, hosts: { allowPrivate: true } };
  assert.equal((await checkWebhookUrl('http://127.0.0.1:8080/x', loopback)).address, '127.0.0.1');
  await assert.rejects(
    checkWebhookUrl('http://169.254.169.254/x', loopback),
    /link-local/,
    'never the metadata endpoint',
  );
});

test('every event reads as one line, and the webhook body carries it as Slack-compatible text', () => {
  assert.equal(
    summarize(
      event('backup.failed', { backup: 'a012', reason: 'the fork did not become ready', attempts: 4 }),
      subject,
    ),
    'big-backup: backup a012 of acme failed after 4 attempts: the fork did not become ready',
  );
  assert.equal(
    summarize(event('database.near_limit', { databaseBytes: 212e9, limitBytes: 250e9, plan: 'Basic' }), subject),
    "big-backup: the database of acme is 212 GB, near the Basic plan's limit of 250 GB; change plan before backups are refused",
  );
  assert.match(
    summarize(event('backups.stale', { newestVerifiedAt: null, frequency: 'hourly' }), subject),
    /none has been verified yet/,
  );
  const body = webhookBody(event('backup.recovered', { backup: 'a013' }), subject);
  assert.equal(body.type, 'backup.recovered');
  assert.equal(body.text, 'big-backup: backups of acme work again: backup a013 completed and was verified');
  assert.deepEqual(body.addon, {
    id: '01234567-89ab-cdef-0123-456789abcdef',
    name: 'big-backup-curved-1',
    app: 'acme',
  });
});
