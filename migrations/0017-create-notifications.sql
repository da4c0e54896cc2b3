-- Notifications (issue 16): what happened (events), where each add-on wants to hear of it (channels),
-- and an outbox with one row per event and channel, so each event reaches each channel once however
-- often a job runs again. Sealed columns hold AES-256-GCM ciphertext (src/crypto/secret-box.ts).

-- A resource's channel settings. No row: email on (to the admins who signed in), the log stream on,
-- each for its default events.
create table notification_settings (
  resource_id uuid primary key references resources (id) on delete cascade,
  email_enabled boolean not null default true,
  -- The addresses the admin listed; null sends to the admins who signed in.
  email_recipients text[],
  email_events text[] not null,
  log_stream_enabled boolean not null default true,
  log_stream_events text[] not null,
  updated_by text not null,
  updated_at timestamptz not null default now()
);

-- The app's Logplex input (Heroku sends it in the provision request when the manifest requires
-- `log_input`): a URL with a token in it, so sealed, bound to the resource.
create table resource_log_inputs (
  resource_id uuid primary key references resources (id) on delete cascade,
  url_ciphertext text not null,
  updated_at timestamptz not null default now()
);

-- The customer's webhooks. The signing secret is shown once, when the webhook is made; it is kept
-- sealed (bound to the webhook id) because every delivery signs with it.
create table webhooks (
  id uuid primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  url text not null,
  events text[] not null,
  secret_ciphertext text not null,
  created_by text not null,
  created_at timestamptz not null default now()
);
create index webhooks_resource on webhooks (resource_id, created_at);

-- What happened. `dedupe_key` makes an event idempotent: the same condition seen twice (a job run
-- again, two workers) is one event.
create table notification_events (
  id bigint generated always as identity primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  kind text not null,
  dedupe_key text not null,
  payload jsonb not null default '{}'::jsonb,
  occurred_at timestamptz not null default now(),
  unique (resource_id, dedupe_key)
);
create index notification_events_resource on notification_events (resource_id, id desc);

-- The outbox and the delivery log: one row per event and channel target, written with the event.
-- `claimed_until` is a lease, so two runs of one delivery job cannot send at the same time.
create table notification_deliveries (
  id bigint generated always as identity primary key,
  event_id bigint not null references notification_events (id) on delete cascade,
  resource_id uuid not null references resources (id) on delete cascade,
  channel text not null check (channel in ('email', 'webhook', 'log_stream')),
  -- A deleted webhook takes its deliveries (and their pending retries) with it.
  webhook_id uuid references webhooks (id) on delete cascade,
  -- What the log shows: the webhook's URL, or the channel's name.
  target text not null,
  state text not null default 'pending' check (state in ('pending', 'sent', 'failed')),
  attempts integer not null default 0,
  -- The receiver's answer: an HTTP status, or an SMTP reply code.
  last_status integer,
  last_error text,
  claimed_until timestamptz,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  updated_at timestamptz not null default now(),
  unique nulls not distinct (event_id, channel, webhook_id)
);
create index notification_deliveries_resource on notification_deliveries (resource_id, id desc);

-- A condition that lasts (backups stale, failing, a reconnect needed, near the plan's limit): when
-- it began and when we last told anyone, so repeats are throttled and recovery is announced once.
create table notification_conditions (
  resource_id uuid not null references resources (id) on delete cascade,
  condition text not null,
  active_since timestamptz not null,
  last_notified_at timestamptz,
  primary key (resource_id, condition)
);

-- The sweep reads the backup events other parts record for customers to hear of (drill failed,
-- archive corrupt) without scanning every state change.
create index backup_events_notify on backup_events (id) where state in ('drill.failed', 'archive.corrupt');
