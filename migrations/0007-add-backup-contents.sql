-- The objects a verified archive holds, from its table of contents (pg_restore --list at verification):
-- { entries: [{ type, schema, name, hasData? }], truncated }. Shown and searched on the backup's page.
alter table backups add column contents jsonb;
