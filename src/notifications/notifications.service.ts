import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { withTransaction } from '../db/pool.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { notFound, unprocessable } from '../errors.ts';
import { parseOr422 } from '../validate.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { findResource } from '../resources/resources.repo.ts';
import type { Actor } from '../users/actor.ts';
import { ALERT_KINDS, EVENT_KINDS, EVENT_LABELS, type SubscribableKind } from './events.ts';
import { emitEvent, type OutboxDeps } from './outbox.ts';
import {
  findSettings,
  listAdminEmails,
  saveSettings,
  type NotificationSettings,
} from './notification-settings.repo.ts';
import { listRecentDeliveries } from './notification-events.repo.ts';
import {
  countWebhooks,
  deleteWebhook,
  insertWebhook,
  listWebhooks,
  SEALED_WEBHOOK_SECRET,
  type Webhook,
} from './webhooks.repo.ts';
import { findLogInput } from './log-inputs.repo.ts';
import { checkWebhookUrl, WebhookUrlRefused } from './webhook-url.ts';
import { newWebhookSecret } from './webhook-signature.ts';

export interface NotificationsDeps extends OutboxDeps {
  secrets: SecretBox;
}

/** No add-on needs more; each webhook is a delivery per event. */
export const MAX_WEBHOOKS = 10;
/** Addresses one add-on may list. */
const MAX_RECIPIENTS = 20;

const eventKind = z.enum(EVENT_KINDS, {
  error: (issue) => `"${String(issue.input)}" is not an event; choose from ${EVENT_KINDS.join(', ')}`,
});
const eventList = (min = 0) =>
  z
    .array(eventKind)
    .min(min, { error: 'choose at least one event' })
    .max(EVENT_KINDS.length)
    .transform((kinds) => [...new Set(kinds)]);

const webhookInput = z
  .object({
    url: z.string({ error: 'url is required' }).trim().min(1, { error: 'url is required' }).max(2000),
    events: eventList(1).optional(),
  })
  .strict();

const email = z.email({ error: (issue) => `"${String(issue.input)}" is not an email address` });

const settingsInput = z
  .object({
    email: z
      .object({
        enabled: z.boolean(),
        // An empty list, or none: the admins who signed in.
        recipients: z.array(email).max(MAX_RECIPIENTS).nullable().optional(),
        events: eventList(),
      })
      .strict()
      .optional(),
    logStream: z.object({ enabled: z.boolean(), events: eventList() }).strict().optional(),
  })
  .strict();

/** Everything the settings page and `GET /api/v1/notifications` show. */
export interface NotificationsOverview {
  email: {
    /** False when this server has no SMTP_URL: email cannot be turned on. */
    available: boolean;
    enabled: boolean;
    /** The addresses listed; null means the admins who signed in (`defaultRecipients`). */
    recipients: string[] | null;
    defaultRecipients: string[];
    events: SubscribableKind[];
  };
  logStream: {
    /** True when Heroku gave us the app's log input (the manifest requires `log_input`). */
    available: boolean;
    enabled: boolean;
    events: SubscribableKind[];
  };
  webhooks: Webhook[];
  deliveries: Awaited<ReturnType<typeof listRecentDeliveries>>;
  eventKinds: Array<{ kind: SubscribableKind; label: string; alert: boolean }>;
}

export async function describeNotifications(
  deps: NotificationsDeps,
  resourceId: string,
): Promise<NotificationsOverview> {
  const [settings, admins, webhooks, logInput, deliveries] = await Promise.all([
    findSettings(deps.pool, resourceId),
    listAdminEmails(deps.pool, resourceId),
    listWebhooks(deps.pool, resourceId),
    findLogInput(deps.pool, resourceId),
    listRecentDeliveries(deps.pool, resourceId, 50),
  ]);
  return {
    email: {
      available: deps.notify.mailer !== null,
      enabled: settings.emailEnabled,
      recipients: settings.emailRecipients,
      defaultRecipients: admins,
      events: settings.emailEvents,
    },
    logStream: {
      available: logInput !== undefined,
      enabled: settings.logStreamEnabled,
      events: settings.logStreamEvents,
    },
    // A webhook URL often is its own credential (Slack's are): shown only by origin and a hint.
    webhooks: webhooks.map((webhook) => ({ ...webhook, url: maskUrl(webhook.url) })),
    deliveries: deliveries.map((delivery) =>
      delivery.channel === 'webhook' ? { ...delivery, target: maskUrl(delivery.target) } : delivery,
    ),
    eventKinds: EVENT_KINDS.map((kind) => ({
      kind,
      label: EVENT_LABELS[kind],
      alert: (ALERT_KINDS as readonly string[]).includes(kind),
    })),
  };
}

/** Changes the email and log-stream settings (admins only; the route checks). */
export async function updateNotificationSettings(
  deps: NotificationsDeps,
  actor: Actor,
  input: unknown,
): Promise<NotificationSettings> {
  const parsed = parseOr422(settingsInput, input ?? {});
  const current = await findSettings(deps.pool, actor.resourceId);
  const next: NotificationSettings = {
    ...current,
    ...(parsed.email
      ? {
          emailEnabled: parsed.email.enabled,
          emailRecipients: parsed.email.recipients?.length ? [...new Set(parsed.email.recipients)] : null,
          emailEvents: parsed.email.events,
        }
      : {}),
    ...(parsed.logStream
      ? { logStreamEnabled: parsed.logStream.enabled, logStreamEvents: parsed.logStream.events }
      : {}),
  };
  await withTransaction(deps.pool, async (tx) => {
    await saveSettings(tx, actor.resourceId, next, actor.label);
    await recordAudit(tx, {
      resourceId: actor.resourceId,
      actor: actor.label,
      action: 'notifications.settings_changed',
      detail: { ...next },
      ip: actor.ip ?? null,
    });
  });
  return next;
}

/**
 * Adds a webhook: the URL is checked as a delivery would check it (https in production; never our own
 * network), and its signing secret is returned this once; we keep it sealed and never show it again.
 */
export async function addWebhook(
  deps: NotificationsDeps,
  actor: Actor,
  input: unknown,
): Promise<{ webhook: Webhook; secret: string }> {
  const parsed = parseOr422(webhookInput, input ?? {});
  try {
    await checkWebhookUrl(parsed.url, deps.notify.webhooks);
  } catch (error) {
    if (error instanceof WebhookUrlRefused) throw unprocessable(error.message, 'webhook_url_refused', ['url']);
    throw error;
  }
  const secret = newWebhookSecret();
  const id = randomUUID();
  const webhook = await withTransaction(deps.pool, async (tx) => {
    if ((await countWebhooks(tx, actor.resourceId)) >= MAX_WEBHOOKS)
      throw unprocessable(`An add-on can have ${MAX_WEBHOOKS} webhooks; delete one first.`, 'too_many_webhooks');
    const created = await insertWebhook(tx, {
      id,
      resourceId: actor.resourceId,
      url: new URL(parsed.url).toString(),
      events: parsed.events ?? [...ALERT_KINDS],
      secretCiphertext: deps.secrets.seal(secret, id, SEALED_WEBHOOK_SECRET),
      createdBy: actor.label,
    });
    await recordAudit(tx, {
      resourceId: actor.resourceId,
      actor: actor.label,
      action: 'notifications.webhook_added',
      detail: { webhook: id, url: created.url, events: created.events },
      ip: actor.ip ?? null,
    });
    return created;
  });
  return { webhook, secret };
}

export async function removeWebhook(deps: NotificationsDeps, actor: Actor, webhookId: string): Promise<void> {
  if (!z.guid().safeParse(webhookId).success || !(await deleteWebhook(deps.pool, actor.resourceId, webhookId)))
    throw notFound('webhook');
  await recordAudit(deps.pool, {
    resourceId: actor.resourceId,
    actor: actor.label,
    action: 'notifications.webhook_deleted',
    detail: { webhook: webhookId },
    ip: actor.ip ?? null,
  });
}

/** Sends a `test` event to every channel that is on; returns how many deliveries it made. */
export async function sendTestNotification(deps: NotificationsDeps, actor: Actor): Promise<{ deliveries: number }> {
  const resource = await findResource(deps.pool, actor.resourceId);
  if (!resource || resource.state !== 'provisioned') throw notFound('add-on resource');
  const event = await emitEvent(deps, {
    resourceId: actor.resourceId,
    kind: 'test',
    dedupeKey: `test:${randomUUID()}`,
    payload: { requestedBy: actor.label },
  });
  await recordAudit(deps.pool, {
    resourceId: actor.resourceId,
    actor: actor.label,
    action: 'notifications.test_sent',
    ip: actor.ip ?? null,
  });
  return { deliveries: event?.deliveries ?? 0 };
}

/** `https://hooks.example.com/services/T0…`: the origin and the first characters of the path. */
export function maskUrl(raw: string): string {
  try {
    const url = new URL(raw);
    const rest = url.pathname + url.search;
    return rest.length <= 12 ? url.origin + rest : `${url.origin}${rest.slice(0, 12)}…`;
  } catch {
    return '(not a URL)';
  }
}
