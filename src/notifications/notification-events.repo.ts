import type { Queryable } from '../db/pool.ts';
import type { Channel, EventKind, EventPayload, NotificationEvent } from './events.ts';

/**
 * Inserts an event unless one with its dedupe key exists for the resource. Returns the new event, or
 * undefined when it was already recorded (a job run again, another worker): the caller sends nothing.
 */
export async function insertEvent(
  db: Queryable,
  event: { resourceId: string; kind: EventKind; dedupeKey: string; payload: EventPayload; occurredAt?: Date },
): Promise<NotificationEvent | undefined> {
  const result = await db.query<{ id: string; occurred_at: Date }>(
    `insert into notification_events (resource_id, kind, dedupe_key, payload, occurred_at)
     values ($1, $2, $3, $4, coalesce($5, now())) on conflict (resource_id, dedupe_key) do nothing
     returning id, occurred_at`,
    [event.resourceId, event.kind, event.dedupeKey, JSON.stringify(event.payload), event.occurredAt ?? null],
  );
  const row = result.rows[0];
  return (
    row && {
      id: String(row.id),
      resourceId: event.resourceId,
      kind: event.kind,
      payload: event.payload,
      occurredAt: row.occurred_at,
    }
  );
}

export async function findEvent(db: Queryable, id: string): Promise<NotificationEvent | undefined> {
  const result = await db.query<{
    id: string;
    resource_id: string;
    kind: EventKind;
    payload: EventPayload;
    occurred_at: Date;
  }>('select id, resource_id, kind, payload, occurred_at from notification_events where id = $1', [id]);
  const row = result.rows[0];
  return (
    row && {
      id: String(row.id),
      resourceId: row.resource_id,
      kind: row.kind,
      payload: row.payload,
      occurredAt: row.occurred_at,
    }
  );
}

/** One outbox row to write with its event. */
export interface NewDelivery {
  channel: Channel;
  webhookId: string | null;
  target: string;
}

/** Writes the event's outbox rows; returns their ids (a row already there is kept, not repeated). */
export async function insertDeliveries(
  db: Queryable,
  eventId: string,
  resourceId: string,
  deliveries: NewDelivery[],
): Promise<string[]> {
  const ids: string[] = [];
  for (const delivery of deliveries) {
    const result = await db.query<{ id: string }>(
      `insert into notification_deliveries (event_id, resource_id, channel, webhook_id, target)
       values ($1, $2, $3, $4, $5) on conflict (event_id, channel, webhook_id) do nothing returning id`,
      [eventId, resourceId, delivery.channel, delivery.webhookId, delivery.target],
    );
    if (result.rows[0]) ids.push(String(result.rows[0].id));
  }
  return ids;
}

/** A delivery as its job sees it. */
export interface Delivery {
  id: string;
  eventId: string;
  resourceId: string;
  channel: Channel;
  webhookId: string | null;
  target: string;
  state: 'pending' | 'sent' | 'failed';
  attempts: number;
  lastStatus: number | null;
  lastError: string | null;
  createdAt: Date;
  sentAt: Date | null;
}

const COLUMNS = `id::text, event_id::text as "eventId", resource_id as "resourceId", channel, webhook_id as "webhookId",
  target, state, attempts, last_status as "lastStatus", last_error as "lastError", created_at as "createdAt",
  sent_at as "sentAt"`;

/**
 * Takes a pending delivery for one attempt: counts the attempt and leases the row for `leaseSeconds`,
 * so a second run of its job (pg-boss delivers at least once) finds it taken, and one that finds it
 * sent or failed does nothing. Undefined when there is nothing to send now.
 */
export async function claimDelivery(db: Queryable, id: string, leaseSeconds: number): Promise<Delivery | undefined> {
  const result = await db.query<Delivery>(
    `update notification_deliveries set attempts = attempts + 1, claimed_until = now() + $2 * interval '1 second',
       updated_at = now()
     where id = $1 and state = 'pending' and (claimed_until is null or claimed_until < now())
     returning ${COLUMNS}`,
    [id, leaseSeconds],
  );
  return result.rows[0];
}

/** The receiver took it: never sent again. */
export async function markDeliverySent(db: Queryable, id: string, status: number | null): Promise<void> {
  await db.query(
    `update notification_deliveries set state = 'sent', last_status = $2, last_error = null, sent_at = now(),
       claimed_until = null, updated_at = now() where id = $1`,
    [id, status],
  );
}

/** An attempt failed: recorded; `final` ends the delivery, otherwise the lease is released for the retry. */
export async function recordDeliveryFailure(
  db: Queryable,
  id: string,
  failure: { status: number | null; error: string; final: boolean },
): Promise<void> {
  await db.query(
    `update notification_deliveries set last_status = $2, last_error = $3,
       state = case when $4 then 'failed' else state end, claimed_until = null, updated_at = now()
     where id = $1`,
    [id, failure.status, failure.error.slice(0, 1000), failure.final],
  );
}

/** The delivery log: newest first, with each event's kind. */
export async function listRecentDeliveries(
  db: Queryable,
  resourceId: string,
  limit = 50,
): Promise<Array<Delivery & { kind: EventKind; occurredAt: Date }>> {
  const result = await db.query<Delivery & { kind: EventKind; occurredAt: Date }>(
    `select d.id::text, d.event_id::text as "eventId", d.resource_id as "resourceId", d.channel,
       d.webhook_id as "webhookId", d.target, d.state, d.attempts, d.last_status as "lastStatus",
       d.last_error as "lastError", d.created_at as "createdAt", d.sent_at as "sentAt",
       e.kind, e.occurred_at as "occurredAt"
     from notification_deliveries d join notification_events e on e.id = d.event_id
     where d.resource_id = $1 order by d.id desc limit $2`,
    [resourceId, limit],
  );
  return result.rows;
}

/** Everything notifications kept for a resource (the purge of a deprovisioned one): events, log, channels, secrets. */
export async function deleteResourceNotifications(db: Queryable, resourceId: string): Promise<void> {
  for (const table of [
    'notification_deliveries',
    'notification_events',
    'notification_conditions',
    'webhooks',
    'notification_settings',
    'resource_log_inputs',
  ])
    await db.query(`delete from ${table} where resource_id = $1`, [resourceId]);
}
