-- One row per Heroku add-on resource. The primary key is Heroku's uuid, which we also return as our
-- provider id, so every path variant and the SSO resource_id resolve to the same row.
create table resources (
  id uuid primary key,
  name text not null,
  plan text not null,
  region text not null,
  callback_url text,
  options jsonb not null default '{}'::jsonb,
  database_attachment text not null default 'DATABASE',
  state text not null default 'provisioned' check (state in ('provisioned', 'deprovisioned')),
  -- Learned from GET /addons/{uuid} after the OAuth grant is exchanged.
  app_id uuid,
  app_name text,
  -- The largest database seen by a backup; a plan change below it is refused.
  largest_database_bytes bigint,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  deprovisioned_at timestamptz,
  purged_at timestamptz
);

-- The partner OAuth authorization for one resource. Every secret column holds AES-256-GCM ciphertext
-- bound to the resource id and the column name (see src/crypto/secret-box.ts).
create table heroku_authorizations (
  resource_id uuid primary key references resources (id) on delete cascade,
  grant_code_ciphertext text,
  grant_expires_at timestamptz,
  access_token_ciphertext text,
  access_token_expires_at timestamptz,
  refresh_token_ciphertext text,
  status text not null default 'pending' check (status in ('pending', 'active', 'failed', 'revoked')),
  failure_reason text,
  exchanged_at timestamptz,
  refreshed_at timestamptz,
  updated_at timestamptz not null default now()
);

-- People who reached a resource by single sign-on. The first is its admin (Heroku's SSO guidance).
create table resource_users (
  resource_id uuid not null references resources (id) on delete cascade,
  heroku_user_id uuid not null,
  email text not null,
  role text not null check (role in ('admin', 'member')),
  first_seen_at timestamptz not null default now(),
  last_seen_at timestamptz not null default now(),
  primary key (resource_id, heroku_user_id)
);

-- SSO tokens already used, so a captured form post cannot be replayed inside its 5-minute window.
create table sso_token_uses (
  token_hash text primary key,
  used_at timestamptz not null default now()
);

-- What happened to a resource and who did it: sign-ins, plan changes, captures, link use.
create table audit_events (
  id bigint generated always as identity primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  actor text not null,
  action text not null,
  detail jsonb not null default '{}'::jsonb,
  ip inet,
  created_at timestamptz not null default now()
);
create index audit_events_resource_created on audit_events (resource_id, created_at desc);

-- Dashboard sessions (connect-pg-simple's layout).
create table sessions (
  sid varchar primary key,
  sess json not null,
  expire timestamp(6) not null
);
create index sessions_expire on sessions (expire);
