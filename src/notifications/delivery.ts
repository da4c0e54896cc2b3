import type { Queryable } from '../db/pool.ts';
import type { Logger } from '../logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { postOnce, PostError } from '../net/http-post.ts';
import { findResource } from '../resources/resources.repo.ts';
import { emailMessage, summarize, webhookBody, type EventSubject, type NotificationEvent } from './events.ts';
import {
  claimDelivery,
  findEvent,
  markDeliverySent,
  recordDeliveryFailure,
  type Delivery,
} from './notification-events.repo.ts';
import { findSettings, listAdminEmails } from './notification-settings.repo.ts';
import { findWebhookForDelivery, SEALED_WEBHOOK_SECRET } from './webhooks.repo.ts';
import { findLogInput, SEALED_LOG_INPUT } from './log-inputs.repo.ts';
import { logplexBody } from './syslog-frames.ts';
import { SIGNATURE_HEADER, signWebhook } from './webhook-signature.ts';
import { checkWebhookUrl, WebhookUrlRefused } from './webhook-url.ts';
import { MailError } from './mailer.ts';
import type { NotifyDeps } from './notify-deps.ts';

export interface DeliveryDeps {
  pool: Queryable;
  secrets: SecretBox;
  logger: Logger;
  notify: NotifyDeps;
}

/** How a delivery attempt ended. `retry` is also thrown, so pg-boss tries again with backoff. */
export type DeliveryOutcome = 'sent' | 'failed' | 'skipped';

/** An attempt failed; `final` says whether another attempt could do better. */
class AttemptFailed extends Error {
  override readonly name = 'AttemptFailed';
  readonly status: number | null;
  readonly final: boolean;
  constructor(message: string, status: number | null, final: boolean) {
    super(message);
    this.status = status;
    this.final = final;
  }
}

/** A lease longer than the longest attempt (a 30 s request), so two runs of one job never overlap. */
const LEASE_SECONDS = 90;
const DEFAULT_TIMEOUT_MS = 15_000;
const USER_AGENT = (publicUrl: string) => `big-backup (${publicUrl}; Node.js/${process.versions.node})`;

/**
 * One attempt of one outbox row. A row already sent, failed, or being sent by another run is left
 * alone (that is what makes a retried job safe: a receiver that took the event never gets it again).
 * A failure worth retrying is recorded and thrown, for pg-boss to retry with backoff; on the job's
 * last retry (`lastAttempt`) or for a refusal no retry changes, the row ends as failed.
 */
export async function deliverNotification(
  deps: DeliveryDeps,
  deliveryId: string,
  options: { lastAttempt: boolean },
): Promise<DeliveryOutcome> {
  const delivery = await claimDelivery(deps.pool, deliveryId, LEASE_SECONDS);
  if (!delivery) return 'skipped';
  const logger = deps.logger.child({ deliveryId, channel: delivery.channel, resourceId: delivery.resourceId });
  try {
    const event = await findEvent(deps.pool, delivery.eventId);
    const resource = await findResource(deps.pool, delivery.resourceId);
    if (!event || !resource || resource.state !== 'provisioned')
      throw new AttemptFailed('the add-on was removed', null, true);
    const subject: EventSubject = {
      appName: resource.appName,
      addonName: resource.name,
      dashboardUrl: new URL(`/r/${resource.id}`, deps.notify.publicUrl).toString(),
    };
    const status = await send(deps, delivery, event, subject);
    await markDeliverySent(deps.pool, delivery.id, status);
    logger.info({ status, kind: event.kind }, 'notification sent');
    return 'sent';
  } catch (error) {
    const failure =
      error instanceof AttemptFailed
        ? error
        : new AttemptFailed('an unexpected error stopped the delivery', null, false);
    const final = failure.final || options.lastAttempt;
    await recordDeliveryFailure(deps.pool, delivery.id, { status: failure.status, error: failure.message, final });
    logger.warn({ err: error, final }, 'notification delivery failed');
    if (final) return 'failed';
    throw failure;
  }
}

async function send(
  deps: DeliveryDeps,
  delivery: Delivery,
  event: NotificationEvent,
  subject: EventSubject,
): Promise<number | null> {
  switch (delivery.channel) {
    case 'email':
      return sendEmail(deps, delivery, event, subject);
    case 'webhook':
      return sendWebhook(deps, delivery, event, subject);
    case 'log_stream':
      return sendLogLine(deps, delivery, event, subject);
  }
}

async function sendEmail(
  deps: DeliveryDeps,
  delivery: Delivery,
  event: NotificationEvent,
  subject: EventSubject,
): Promise<number> {
  const mailer = deps.notify.mailer;
  if (!mailer) throw new AttemptFailed('email is not configured on this server (SMTP_URL)', null, true);
  const settings = await findSettings(deps.pool, delivery.resourceId);
  const to = settings.emailRecipients ?? (await listAdminEmails(deps.pool, delivery.resourceId));
  if (to.length === 0)
    throw new AttemptFailed('no recipients: no address is listed and no admin has signed in yet', null, true);
  const message = emailMessage(event, subject);
  try {
    const answer = await mailer.send({
      to,
      ...message,
      headers: { 'X-Big-Backup-Event': event.kind, 'X-Big-Backup-Delivery': delivery.id },
    });
    return answer.status;
  } catch (error) {
    if (error instanceof MailError) throw new AttemptFailed(error.message, error.status, error.permanent);
    throw error;
  }
}

async function sendWebhook(
  deps: DeliveryDeps,
  delivery: Delivery,
  event: NotificationEvent,
  subject: EventSubject,
): Promise<number> {
  const webhook = delivery.webhookId ? await findWebhookForDelivery(deps.pool, delivery.webhookId) : undefined;
  if (!webhook) throw new AttemptFailed('the webhook was deleted', null, true);
  let checked: { url: URL; address: string };
  try {
    // Again at every delivery: what the name resolves to may have changed since it was saved.
    checked = await checkWebhookUrl(webhook.url, deps.notify.webhooks);
  } catch (error) {
    if (error instanceof WebhookUrlRefused) throw new AttemptFailed(error.message, null, !error.temporary);
    throw error;
  }
  const secret = deps.secrets.open(webhook.secretCiphertext, webhook.id, SEALED_WEBHOOK_SECRET);
  const body = JSON.stringify(webhookBody(event, subject));
  const timestamp = Math.floor(Date.now() / 1000);
  const answer = await post(deps, checked.url, checked.address, body, {
    'Content-Type': 'application/json',
    'User-Agent': USER_AGENT(deps.notify.publicUrl),
    [SIGNATURE_HEADER]: signWebhook(secret, timestamp, body),
    'X-Big-Backup-Event': event.kind,
    'X-Big-Backup-Event-Id': event.id,
    'X-Big-Backup-Delivery': delivery.id,
  });
  if (answer >= 200 && answer < 300) return answer;
  if (answer >= 300 && answer < 400)
    throw new AttemptFailed(
      `the receiver answered ${answer}; redirects are not followed: use the final URL`,
      answer,
      true,
    );
  throw new AttemptFailed(`the receiver answered ${answer}`, answer, answer === 410);
}

async function sendLogLine(
  deps: DeliveryDeps,
  delivery: Delivery,
  event: NotificationEvent,
  subject: EventSubject,
): Promise<number> {
  const sealed = await findLogInput(deps.pool, delivery.resourceId);
  if (!sealed) throw new AttemptFailed('Heroku gave no log input URL for this app', null, true);
  const logInput = new URL(deps.secrets.open(sealed, delivery.resourceId, SEALED_LOG_INPUT));
  const token = decodeURIComponent(logInput.password);
  const authorization = `Basic ${Buffer.from(`${decodeURIComponent(logInput.username)}:${token}`).toString('base64')}`;
  logInput.username = '';
  logInput.password = '';
  const { body, count } = logplexBody([{ at: event.occurredAt, message: summarize(event, subject) }], {
    token,
    procId: 'big-backup',
  });
  const answer = await post(deps, logInput, undefined, body, {
    'Content-Type': 'application/logplex-1',
    'Logplex-Msg-Count': String(count),
    'User-Agent': USER_AGENT(deps.notify.publicUrl),
    Authorization: authorization,
  });
  if (answer >= 200 && answer < 300) return answer;
  // A 4xx means the URL is no longer valid (Heroku rotates it): trying it again will not help.
  throw new AttemptFailed(`Logplex answered ${answer}`, answer, answer >= 400 && answer < 500 && answer !== 429);
}

async function post(
  deps: DeliveryDeps,
  url: URL,
  address: string | undefined,
  body: string,
  headers: Record<string, string>,
): Promise<number> {
  try {
    const answer = await postOnce(url, {
      headers,
      body,
      timeoutMs: deps.notify.timeoutMs ?? DEFAULT_TIMEOUT_MS,
      ...(address ? { address } : {}),
    });
    return answer.status;
  } catch (error) {
    if (error instanceof PostError) throw new AttemptFailed(error.message, null, false);
    throw error;
  }
}
