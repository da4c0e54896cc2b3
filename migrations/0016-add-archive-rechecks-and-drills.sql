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
