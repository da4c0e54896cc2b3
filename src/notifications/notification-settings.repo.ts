import type { Queryable } from '../db/pool.ts';
import { DEFAULT_EVENTS, type SubscribableKind } from './events.ts';

/** A resource's channel settings (the defaults when it never saved any). */
export interface NotificationSettings {
  emailEnabled: boolean;
  /** The addresses the admin listed; null: the admins who signed in. */
  emailRecipients: string[] | null;
  emailEvents: SubscribableKind[];
  logStreamEnabled: boolean;
  logStreamEvents: SubscribableKind[];
}

export const DEFAULT_SETTINGS: NotificationSettings = {
  emailEnabled: true,
  emailRecipients: null,
  emailEvents: [...DEFAULT_EVENTS.email],
  logStreamEnabled: true,
  logStreamEvents: [...DEFAULT_EVENTS.log_stream],
};

export async function findSettings(db: Queryable, resourceId: string): Promise<NotificationSettings> {
  const result = await db.query<NotificationSettings>(
    `select email_enabled as "emailEnabled", email_recipients as "emailRecipients", email_events as "emailEvents",
       log_stream_enabled as "logStreamEnabled", log_stream_events as "logStreamEvents"
     from notification_settings where resource_id = $1`,
    [resourceId],
  );
  return result.rows[0] ?? DEFAULT_SETTINGS;
}

export async function saveSettings(
  db: Queryable,
  resourceId: string,
  settings: NotificationSettings,
  updatedBy: string,
): Promise<void> {
  await db.query(
    `insert into notification_settings
       (resource_id, email_enabled, email_recipients, email_events, log_stream_enabled, log_stream_events, updated_by)
     values ($1, $2, $3, $4, $5, $6, $7)
     on conflict (resource_id) do update set email_enabled = excluded.email_enabled,
       email_recipients = excluded.email_recipients, email_events = excluded.email_events,
       log_stream_enabled = excluded.log_stream_enabled, log_stream_events = excluded.log_stream_events,
       updated_by = excluded.updated_by, updated_at = now()`,
    [
      resourceId,
      settings.emailEnabled,
      settings.emailRecipients,
      settings.emailEvents,
      settings.logStreamEnabled,
      settings.logStreamEvents,
      updatedBy,
    ],
  );
}

/** The emails of the resource's admins (people who signed in by SSO as its admin). */
export async function listAdminEmails(db: Queryable, resourceId: string): Promise<string[]> {
  const result = await db.query<{ email: string }>(
    `select email from resource_users where resource_id = $1 and role = 'admin' order by first_seen_at`,
    [resourceId],
  );
  return result.rows.map((row) => row.email);
}
