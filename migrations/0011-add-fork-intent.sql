-- The fork an attempt is about to ask Heroku for, written before the request: when the worker dies
-- after Heroku made the fork but before fork_addon_id was saved, the next attempt (or the fork
-- janitor) finds it by its attachment name on this app and destroys it. Cleared once the fork is
-- recorded, or destroyed.
alter table backups
  add column fork_intent_app text,
  add column fork_intent_attachment text,
  add column fork_intent_at timestamptz;
create index backups_fork_intents on backups (fork_intent_at) where fork_intent_at is not null;
