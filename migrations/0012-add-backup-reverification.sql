-- A completed backup whose stored archive can no longer be proven as it was (its manifest sidecar is
-- gone) is never deleted by the janitor: it is marked here instead, with why, for someone to verify
-- the archive again (nothing clears it automatically yet).
alter table backups
  add column reverification_requested_at timestamptz,
  add column reverification_reason text;
create index backups_reverification on backups (reverification_requested_at)
  where reverification_requested_at is not null;
