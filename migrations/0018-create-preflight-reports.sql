-- Pre-flight risk reports (issue 16 item 2): what the catalog of a resource's database says about the
-- risks of backing it up, computed when a source is set or connected, before each backup (on the
-- fork) and on demand. Findings are stored as shown, so a report reads the same later; the survey
-- (counts, sizes, names of the largest and unlogged tables, extensions, roles) is kept beside them.
-- Table and role names are the customer's: the resource purge deletes these rows.
create table preflight_reports (
  id bigint generated always as identity primary key,
  resource_id uuid not null references resources (id) on delete cascade,
  -- Set for the report taken inside a backup's attempt, on the database that attempt dumps.
  backup_id uuid references backups (id) on delete set null,
  trigger text not null check (trigger in ('source_set', 'connected', 'backup', 'on_demand')),
  checked_at timestamptz not null default now(),
  database_bytes bigint,
  findings jsonb not null,
  survey jsonb not null default '{}'::jsonb
);
create index preflight_reports_resource_checked on preflight_reports (resource_id, checked_at desc, id desc);
create index preflight_reports_backup on preflight_reports (backup_id) where backup_id is not null;
