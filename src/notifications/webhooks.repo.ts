import type { Queryable } from '../db/pool.ts';
import type { SubscribableKind } from './events.ts';

/** The purpose a webhook's sealed secret is bound to (its owner is the webhook id). */
export const SEALED_WEBHOOK_SECRET = 'webhook_secret';

/** A webhook as listed; the secret stays sealed. */
export interface Webhook {
  id: string;
  resourceId: string;
  url: string;
  events: SubscribableKind[];
  createdBy: string;
  createdAt: Date;
}

const COLUMNS = `id, resource_id as "resourceId", url, events, created_by as "createdBy", created_at as "createdAt"`;

export async function insertWebhook(
  db: Queryable,
  webhook: {
    id: string;
    resourceId: string;
    url: string;
    events: SubscribableKind[];
    secretCiphertext: string;
    createdBy: string;
  },
): Promise<Webhook> {
  const result = await db.query<Webhook>(
    `insert into webhooks (id, resource_id, url, events, secret_ciphertext, created_by)
     values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`,
    [webhook.id, webhook.resourceId, webhook.url, webhook.events, webhook.secretCiphertext, webhook.createdBy],
  );
  return result.rows[0]!;
}

export async function listWebhooks(db: Queryable, resourceId: string): Promise<Webhook[]> {
  const result = await db.query<Webhook>(
    `select ${COLUMNS} from webhooks where resource_id = $1 order by created_at, id`,
    [resourceId],
  );
  return result.rows;
}

export async function countWebhooks(db: Queryable, resourceId: string): Promise<number> {
  const result = await db.query<{ count: number }>(
    'select count(*)::int as count from webhooks where resource_id = $1',
    [resourceId],
  );
  return result.rows[0]!.count;
}

/** A webhook with its sealed secret, for a delivery. */
export async function findWebhookForDelivery(
  db: Queryable,
  id: string,
): Promise<(Webhook & { secretCiphertext: string }) | undefined> {
  const result = await db.query<Webhook & { secretCiphertext: string }>(
    `select ${COLUMNS}, secret_ciphertext as "secretCiphertext" from webhooks where id = $1`,
    [id],
  );
  return result.rows[0];
}

/** Deletes one of the resource's webhooks; false when it has none by that id. */
export async function deleteWebhook(db: Queryable, resourceId: string, id: string): Promise<boolean> {
  const result = await db.query('delete from webhooks where resource_id = $1 and id = $2', [resourceId, id]);
  return result.rowCount === 1;
}
