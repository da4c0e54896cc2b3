-- Issue 15. Stored archives are re-read over time and their SHA-256 recomputed (a re-check); one whose
-- bytes no longer match, or whose object is gone, makes its backup `corrupt`: a final state, never
-- downloadable, never counted by retention.
alter table backups drop constraint backups_state_check;
alter table backups add constraint backups_state_check
  check (state in ('pending', 'running', 'verifying', 'completed', 'failed', 'canceled', 'corrupt'));
alter table backups
  -- When the stored bytes were last re-read and found to match (verification counts as the first time).
  add column rechecked_at timestamptz,
  add column corrupt_at timestamptz,
  add column corruption_reason text;
-- The rolling re-check looks for completed backups by when they were last proven.
create index backups_recheck_due on backups ((coalesce(rechecked_at, verified_at))) where state = 'completed';

-- Every re-check, passed or not: the evidence, and the bytes read per hour the budget counts.
create table archive_rechecks (
  id bigint generated always as identity primary key,
  backup_id uuid not null references backups (id) on delete cascade,
  started_at timestamptz not null,
  finished_at timestamptz not null default now(),
  -- Bytes read from the store (all of them when the check ran to the end).
  bytes_read bigint not null,
  outcome text not null check (outcome in ('passed', 'mismatch', 'missing')),
  detail text,
  requested_by text not null
);
create index archive_rechecks_backup on archive_rechecks (backup_id, id);
create index archive_rechecks_finished on archive_rechecks (finished_at);

-- Restore drills: after a fork-based backup verifies, while the fork still stands, the archive is
-- restored into an empty database beside it and the two are compared table by table.
create table drill_settings (
  resource_id uuid primary key references resources (id) on delete cascade,
  policy text not null check (policy in ('off', 'every', 'weekly', 'monthly')),
  -- The heroku-postgresql plan (without the service prefix) of the empty database made on the scratch app.
  target_plan text not null,
  updated_by text not null,
  updated_at timestamptz not null default now()
);

create table restore_drills (
  id uuid primary key,
  backup_id uuid not null references backups (id) on delete cascade,
  resource_id uuid not null references resources (id) on delete cascade,
  state text not null check (state in ('pending', 'running', 'passed', 'failed', 'skipped')),
  started_at timestamptz,
  finished_at timestamptz,
  -- Written every 30 s while the drill runs: a drill whose worker died stops beating.
  heartbeat_at timestamptz,
  restore_seconds numeric,
  restore_mode text,
  restore_jobs integer,
  restore_exit_code integer,
  warnings jsonb not null default '[]'::jsonb,
  tables_compared integer,
  tables_equal integer,
  differences jsonb not null default '[]'::jsonb,
  failure_reason text,
  -- The empty database restored into: an add-on on the scratch app. The intent is written before the
  -- request, the add-on when Heroku answers; teardown and the fork janitor find it through these.
  target_app text,
  target_attachment text,
  target_intent_at timestamptz,
  target_addon_id text,
  target_addon_name text,
  target_destroyed_at timestamptz,
  created_at timestamptz not null default now()
);
create index restore_drills_backup on restore_drills (backup_id, created_at desc);
create index restore_drills_resource on restore_drills (resource_id, created_at desc);
create index restore_drills_targets on restore_drills (target_intent_at)
  where target_intent_at is not null and target_destroyed_at is null;
create index restore_drills_running on restore_drills (heartbeat_at) where state = 'running';
