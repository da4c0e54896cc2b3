-- Expiring download links for one backup ("Download" on the dashboard, or POST /api/v1/backups/:id/links).
-- Anyone holding the URL can fetch the archive until it expires or is revoked, so only a SHA-256 of the
-- token is kept (like api_tokens); redemption looks the hash up and never compares secrets.
-- Rows go with their backup (pruned, purged) and their resource.
create table download_links (
  id uuid primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  backup_id uuid not null references backups (id) on delete cascade,
  token_hash text not null unique check (token_hash ~ '^[0-9a-f]{64}$'),
  -- The first characters of the token, so people can tell their links apart in a list.
  prefix text not null,
  created_by text not null,
  created_ip inet,
  created_at timestamptz not null default now(),
  expires_at timestamptz not null,
  revoked_at timestamptz,
  revoked_by text,
  last_used_at timestamptz,
  last_used_ip inet,
  use_count integer not null default 0,
  check (expires_at > created_at)
);
create index download_links_resource_backup on download_links (resource_id, backup_id, created_at desc);
