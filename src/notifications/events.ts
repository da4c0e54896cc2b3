/**
 * What big-backup tells customers about, and the words it uses. Pure: the outbox (outbox.ts) stores
 * events, the channels carry them.
 */

/** Conditions worth an alert: email and webhooks get these by default. */
export const ALERT_KINDS = [
  'backup.failed',
  'backup.recovered',
  'backups.stale',
  'reconnect.needed',
  'drill.failed',
  'archive.corrupt',
  'database.near_limit',
] as const;

/** A backup's progress, for the app's log stream (and webhooks that ask for them). */
export const PROGRESS_KINDS = ['backup.started', 'backup.completed'] as const;

/** Every kind a channel may subscribe to. */
export const EVENT_KINDS = [...ALERT_KINDS, ...PROGRESS_KINDS] as const;

export type AlertKind = (typeof ALERT_KINDS)[number];
export type SubscribableKind = (typeof EVENT_KINDS)[number];
/** `test` is sent on request to every channel, whatever it subscribes to. */
export type EventKind = SubscribableKind | 'test';

export const CHANNELS = ['email', 'webhook', 'log_stream'] as const;
export type Channel = (typeof CHANNELS)[number];

/** What each channel gets when nobody chose: alerts everywhere, progress in the log stream too. */
export const DEFAULT_EVENTS: Readonly<Record<Channel, readonly SubscribableKind[]>> = {
  email: ALERT_KINDS,
  webhook: ALERT_KINDS,
  log_stream: EVENT_KINDS,
};

/** Short names for the settings page. */
export const EVENT_LABELS: Readonly<Record<EventKind, string>> = {
  'backup.failed': 'A backup failed (after its last retry)',
  'backup.recovered': 'Backups work again after failures',
  'backups.stale': 'No verified backup for 1.5 schedule intervals',
  'reconnect.needed': 'Heroku needs to be connected again',
  'drill.failed': 'A restore drill failed',
  'archive.corrupt': 'A stored archive is corrupt',
  'database.near_limit': "The database is near the plan's size limit",
  'backup.started': 'A backup started',
  'backup.completed': 'A backup completed',
  test: 'Test',
};

export function isSubscribableKind(value: string): value is SubscribableKind {
  return (EVENT_KINDS as readonly string[]).includes(value);
}

/** Details an event carries; every field is optional, each kind uses a few. */
export interface EventPayload {
  backup?: string;
  backupId?: string;
  reason?: string;
  bytes?: number;
  durationSeconds?: number;
  attempts?: number;
  newestVerifiedAt?: string | null;
  frequency?: string;
  databaseBytes?: number;
  limitBytes?: number;
  plan?: string;
  detail?: string;
  requestedBy?: string;
}

/** An event as channels see it. */
export interface NotificationEvent {
  id: string;
  resourceId: string;
  kind: EventKind;
  payload: EventPayload;
  occurredAt: Date;
}

/** Whom the event is about, for the text: the app's name when we know it, else the add-on's. */
export interface EventSubject {
  appName: string | null;
  addonName: string;
  dashboardUrl: string;
}

/** One line a person can read at a glance: the email subject, Slack's `text`, the log line. */
export function summarize(event: NotificationEvent, subject: EventSubject): string {
  const where = subject.appName ?? subject.addonName;
  const p = event.payload;
  const backup = p.backup ? `backup ${p.backup}` : 'a backup';
  switch (event.kind) {
    case 'backup.failed':
      return `big-backup: ${backup} of ${where} failed${p.attempts ? ` after ${p.attempts} attempt${p.attempts === 1 ? '' : 's'}` : ''}: ${p.reason ?? 'no reason recorded'}`;
    case 'backup.recovered':
      return `big-backup: backups of ${where} work again: ${backup} completed and was verified`;
    case 'backups.stale':
      return p.newestVerifiedAt
        ? `big-backup: no backup of ${where} has been verified since ${p.newestVerifiedAt}, though backups are scheduled ${p.frequency ?? ''}`.trimEnd()
        : `big-backup: backups of ${where} are scheduled ${p.frequency ?? ''}, but none has been verified yet`;
    case 'reconnect.needed':
      return `big-backup: reconnect Heroku for ${where}: ${p.reason ?? 'the connection stopped working'}; backups cannot run until then`;
    case 'drill.failed':
      return `big-backup: a restore drill of ${backup} of ${where} failed: ${p.reason ?? p.detail ?? 'no reason recorded'}`;
    case 'archive.corrupt':
      return `big-backup: the stored archive of ${backup} of ${where} is corrupt: ${p.reason ?? p.detail ?? 'no reason recorded'}`;
    case 'database.near_limit':
      return `big-backup: the database of ${where} is ${formatBytes(p.databaseBytes)}, near the ${p.plan ?? ''} plan's limit of ${formatBytes(p.limitBytes)}; change plan before backups are refused`;
    case 'backup.started':
      return `big-backup: ${backup} of ${where} started`;
    case 'backup.completed':
      return `big-backup: ${backup} of ${where} completed: ${formatBytes(p.bytes)} in ${formatDuration(p.durationSeconds)}, verified`;
    case 'test':
      return `big-backup: a test notification for ${where}${p.requestedBy ? `, sent by ${p.requestedBy}` : ''}`;
  }
}

/** The webhook's JSON body: Slack-compatible (`text`), with the facts beside it. */
export function webhookBody(event: NotificationEvent, subject: EventSubject): Record<string, unknown> {
  return {
    id: event.id,
    type: event.kind,
    occurred_at: event.occurredAt.toISOString(),
    text: summarize(event, subject),
    addon: { id: event.resourceId, name: subject.addonName, app: subject.appName },
    dashboard_url: subject.dashboardUrl,
    data: event.payload,
  };
}

/** The email: a subject and a plain-text body. */
export function emailMessage(event: NotificationEvent, subject: EventSubject): { subject: string; text: string } {
  const line = summarize(event, subject);
  const title = line.replace(/^big-backup: /, '');
  return {
    subject: `[big-backup] ${title.length > 120 ? `${title.slice(0, 117)}...` : title}`,
    text: [
      line,
      '',
      `Add-on: ${subject.addonName}${subject.appName ? ` (app ${subject.appName})` : ''}`,
      `When: ${event.occurredAt.toISOString()}`,
      `Dashboard: ${subject.dashboardUrl}`,
      '',
      'You receive this because you are an admin of this big-backup add-on, or an admin listed your address.',
      'Change which events are emailed, and to whom, under Settings -> Notifications in the dashboard.',
    ].join('\n'),
  };
}

/** Bytes as people read them (decimal units, like the plans). */
export function formatBytes(bytes: number | undefined): string {
  if (bytes === undefined) return 'an unknown size';
  const units = ['bytes', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return unit === 0 ? `${value} bytes` : `${value.toFixed(value >= 100 ? 0 : 1)} ${units[unit]}`;
}

function formatDuration(seconds: number | undefined): string {
  if (seconds === undefined) return 'an unknown time';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m ${s % 60}s`;
  return `${Math.floor(m / 60)}h ${m % 60}m`;
}
