-- Deleting a backup (pruning, purging) cascades to its download links; without an index led by
-- backup_id each delete scanned every link.
create index download_links_backup on download_links (backup_id);
