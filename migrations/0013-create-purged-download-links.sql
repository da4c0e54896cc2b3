-- Part of a deprovisioned resource's tombstone: one row per download link the purge removed, so the
-- link answers 410 ("this add-on was removed") rather than 404 for as long as the tombstone exists.
-- Neither the token nor its stored SHA-256 is kept: only a digest of that hash under its own label,
-- which identifies a presented token and leads to nothing else.
create table purged_download_links (
  digest text primary key check (digest ~ '^[0-9a-f]{64}$'),
  resource_id uuid not null references resources (id) on delete cascade,
  purged_at timestamptz not null default now()
);
create index purged_download_links_resource on purged_download_links (resource_id);
