-- The customer's own Heroku grant for one resource ("Connect Heroku" in the dashboard): a user-level
-- OAuth authorization with the write-protected scope, which the add-on's partner token lacks, so we can
-- read the app's database URL and create and destroy forks. Token columns hold AES-256-GCM ciphertext
-- bound to the resource id and the column name (see src/crypto/secret-box.ts).
create table heroku_connections (
  resource_id uuid primary key references resources (id) on delete cascade,
  access_token_ciphertext text,
  access_token_expires_at timestamptz,
  refresh_token_ciphertext text,
  heroku_user_id text,
  heroku_email text,
  -- The dashboard user (email) who connected, and when.
  connected_by text not null,
  connected_at timestamptz not null default now(),
  refreshed_at timestamptz,
  status text not null default 'connected' check (status in ('connected', 'reconnect_needed')),
  last_error text,
  -- A customer-owned app that holds our forks, so the production app never gets a new config var
  -- (which would mean a release and a restart).
  scratch_app_id text,
  scratch_app_name text,
  -- A heroku-postgresql plan name without the service prefix, e.g. standard-0.
  fork_plan text not null default 'standard-0',
  -- When the source cannot be forked (Essential tier), dump it directly only if the admin allowed it.
  allow_direct_fallback boolean not null default false,
  updated_at timestamptz not null default now()
);

-- A source may now be a Heroku attachment, resolved to <ATTACHMENT>_URL from the app's config vars at
-- the start of every run (credentials rotate; the URL is never stored for this kind).
alter table backup_sources drop constraint backup_sources_kind_check;
alter table backup_sources alter column url_ciphertext drop not null;
alter table backup_sources add column attachment_name text;
alter table backup_sources add column app_name text;
alter table backup_sources add constraint backup_sources_kind_check check (
  (kind = 'direct' and url_ciphertext is not null)
  or (kind = 'heroku' and attachment_name is not null and app_name is not null));

-- The fork a backup was captured against. The add-on id is written as soon as Heroku answers the
-- create, so teardown and the janitor can always find it.
alter table backups
  add column fork_addon_id text,
  add column fork_addon_name text,
  add column fork_app_name text,
  add column fork_plan text,
  add column fork_state text,
  add column fork_requested_at timestamptz,
  add column fork_ready_at timestamptz,
  add column fork_destroyed_at timestamptz,
  -- fork | direct | direct-fallback (an unforkable source dumped directly, as the admin allowed).
  add column source_mode text check (source_mode in ('fork', 'direct', 'direct-fallback'));
create index backups_live_forks on backups (fork_requested_at) where fork_addon_id is not null and fork_destroyed_at is null;
