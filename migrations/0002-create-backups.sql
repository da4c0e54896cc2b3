-- One row per backup (PGBackups calls them transfers). The row exists before any work starts, so every
-- attempt is visible; pg-boss is the engine, this table is the record.
create table backups (
  id uuid primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  -- Numbered per resource and trigger like PGBackups: b001 manual, a001 scheduled.
  trigger text not null check (trigger in ('manual', 'scheduled')),
  number integer not null check (number > 0),
  state text not null default 'pending'
    check (state in ('pending', 'running', 'verifying', 'completed', 'failed', 'canceled')),
  -- What a running attempt is doing right now (resolving, dumping, uploading, verifying).
  phase text,
  format text not null default 'default' check (format in ('default', 'fast')),
  requested_by text not null,
  -- For scheduled backups: the slot this backup fills, so a slot fired twice makes one backup.
  slot_key text unique,
  -- Fencing (pg-boss execution is at least once): every write of an attempt names its token, and a
  -- newer attempt replaces the token, so a stale attempt can never complete or overwrite this row.
  attempt integer not null default 0,
  attempt_token uuid,
  object_key text,
  bytes bigint,
  sha256 text,
  source_bytes bigint,
  source_description text,
  server_version text,
  pg_dump_version text,
  dump_command text,
  restore_command text,
  table_count integer,
  toc_entries integer,
  progress jsonb not null default '{}'::jsonb,
  failure_kind text,
  failure_reason text,
  cancel_requested_at timestamptz,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  verified_at timestamptz,
  finished_at timestamptz,
  updated_at timestamptz not null default now(),
  unique (resource_id, trigger, number)
);
create index backups_resource_created on backups (resource_id, created_at desc);
create index backups_unfinished on backups (state) where state in ('pending', 'running', 'verifying');

-- The last number handed out per resource and trigger.
create table backup_counters (
  resource_id uuid not null references resources (id) on delete cascade,
  trigger text not null,
  last_number integer not null,
  primary key (resource_id, trigger)
);

-- Every state change, timestamped, with the attempt that made it.
create table backup_events (
  id bigint generated always as identity primary key,
  backup_id uuid not null references backups (id) on delete cascade,
  attempt integer not null,
  state text not null,
  detail text,
  at timestamptz not null default now()
);
create index backup_events_backup on backup_events (backup_id, id);

-- pg_dump's stderr lines (its --verbose log) and our own notes, per attempt.
create table backup_logs (
  id bigint generated always as identity primary key,
  backup_id uuid not null references backups (id) on delete cascade,
  attempt integer not null,
  at timestamptz not null default now(),
  message text not null
);
create index backup_logs_backup on backup_logs (backup_id, id);

-- Where a resource's backups read from. `direct`: a database URL the customer gave, sealed with
-- AES-256-GCM bound to the resource (the fork source of a later migration resolves it per run instead).
create table backup_sources (
  resource_id uuid primary key references resources (id) on delete cascade,
  kind text not null check (kind in ('direct')),
  url_ciphertext text not null,
  description text not null,
  updated_by text not null,
  updated_at timestamptz not null default now()
);
