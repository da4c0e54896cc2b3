import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { withTransaction, type Queryable } from '../db/pool.ts';
import { sendJob } from '../queue/send.ts';
import type { EventKind, EventPayload, NotificationEvent } from './events.ts';
import { insertDeliveries, insertEvent, type NewDelivery } from './notification-events.repo.ts';
import { findSettings } from './notification-settings.repo.ts';
import { listWebhooks } from './webhooks.repo.ts';
import { findLogInput } from './log-inputs.repo.ts';
import type { NotifyDeps } from './notify-deps.ts';

export interface OutboxDeps {
  pool: pg.Pool;
  boss: PgBoss;
  notify: NotifyDeps;
}

/** An event to record: `dedupeKey` names the occurrence, so recording it twice sends it once. */
export interface NewEvent {
  resourceId: string;
  kind: EventKind;
  dedupeKey: string;
  payload?: EventPayload;
  occurredAt?: Date;
}

/**
 * Records an event and, in the same transaction, one outbox row per channel that subscribes to it,
 * each with its delivery job: either all of it is stored or none, and an event already recorded (the
 * same dedupe key) adds nothing. Returns the event, with how many deliveries it made, when it is new. With `db`, joins the caller's
 * transaction (the event then commits or rolls back with what it reports).
 */
export async function emitEvent(
  deps: OutboxDeps,
  event: NewEvent,
  options: { db?: Queryable } = {},
): Promise<(NotificationEvent & { deliveries: number }) | undefined> {
  const run = async (tx: Queryable) => {
    const stored = await insertEvent(tx, { ...event, payload: event.payload ?? {} });
    if (!stored) return undefined;
    const deliveries = await deliveriesFor(tx, deps.notify, event.resourceId, event.kind);
    const ids = await insertDeliveries(tx, stored.id, event.resourceId, deliveries);
    for (const deliveryId of ids) await sendJob(deps.boss, 'deliverNotification', { deliveryId }, { db: tx });
    return { ...stored, deliveries: ids.length };
  };
  return options.db ? run(options.db) : withTransaction(deps.pool, run);
}

/** The channels that take this kind of event for the resource. `test` goes to every channel that is on. */
async function deliveriesFor(
  db: Queryable,
  notify: NotifyDeps,
  resourceId: string,
  kind: EventKind,
): Promise<NewDelivery[]> {
  // One after another: `db` may be a transaction's single client.
  const settings = await findSettings(db, resourceId);
  const webhooks = await listWebhooks(db, resourceId);
  const logInput = await findLogInput(db, resourceId);
  const wants = (events: readonly string[]) => kind === 'test' || events.includes(kind);
  const deliveries: NewDelivery[] = [];
  if (notify.mailer && settings.emailEnabled && wants(settings.emailEvents))
    deliveries.push({ channel: 'email', webhookId: null, target: 'email' });
  for (const webhook of webhooks)
    if (wants(webhook.events)) deliveries.push({ channel: 'webhook', webhookId: webhook.id, target: webhook.url });
  if (logInput && settings.logStreamEnabled && wants(settings.logStreamEvents))
    deliveries.push({ channel: 'log_stream', webhookId: null, target: 'log stream' });
  return deliveries;
}
