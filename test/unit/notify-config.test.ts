import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { loadConfig } from '../../src/config.ts';
import { notifyDepsFrom } from '../../src/notifications/notify-config.ts';

const valid = {
  DATABASE_URL: 'postgres://u:p@127.0.0.1:5432/db',
  HEROKU_ADDON_PASSWORD: 'x'.repeat(20),
  HEROKU_SSO_SALT: 's'.repeat(32),
  HEROKU_OAUTH_CLIENT_SECRET: 'secret',
  PUBLIC_URL: 'https://big-backup.example.com',
  SESSION_SECRET: 'z'.repeat(40),
  ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  STORAGE_URL: 's3://archives/big-backup',
};

test('without SMTP_URL email is not offered; production webhooks are https-only and never private', () => {
  const notify = notifyDepsFrom(loadConfig(valid));
  assert.equal(notify.mailer, null);
  assert.deepEqual(notify.webhooks, { requireHttps: true, hosts: { allowPrivate: false } });
  assert.equal(notify.publicUrl, 'https://big-backup.example.com');
  const development = notifyDepsFrom(
    loadConfig({ ...valid, NODE_ENV: 'development', ALLOW_PRIVATE_DATABASE_HOSTS: 'true' }),
  );
  assert.deepEqual(development.webhooks, { requireHttps: false, hosts: { allowPrivate: true } });
});

test('SMTP_URL must be an smtp:// or smtps:// URL; with it, email is offered', () => {
  assert.throws(() => loadConfig({ ...valid, SMTP_URL: 'https://mail.example.com' }), /SMTP_URL must be an smtp/);
  const notify = notifyDepsFrom(loadConfig({ ...valid, SMTP_URL: 'smtps://user:pw@smtp.example.com:465' }));
  assert.ok(notify.mailer);
  notify.mailer.close();
});
