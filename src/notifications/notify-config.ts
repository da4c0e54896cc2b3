import type { Config } from '../config.ts';
import { createMailer } from './mailer.ts';
import type { NotifyDeps } from './notify-deps.ts';

/**
 * Notification settings from the configuration: email through SMTP_URL when it is set; webhooks
 * https-only in production and never to our own network (ALLOW_PRIVATE_DATABASE_HOSTS, which
 * production refuses, lets the tests and the embedded default reach loopback).
 */
export function notifyDepsFrom(config: Config): NotifyDeps {
  const from = config.EMAIL_FROM ?? `big-backup <no-reply@${new URL(config.PUBLIC_URL).hostname}>`;
  return {
    publicUrl: config.PUBLIC_URL,
    mailer: config.SMTP_URL ? createMailer(config.SMTP_URL, from) : null,
    webhooks: {
      requireHttps: config.NODE_ENV === 'production',
      hosts: { allowPrivate: config.ALLOW_PRIVATE_DATABASE_HOSTS },
    },
  };
}
