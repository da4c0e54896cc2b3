import type { Queryable } from '../db/pool.ts';
import { recordEvent } from './backup-events.repo.ts';

/** What a re-check of a stored archive found (migration 0016). */
export type RecheckOutcome = 'passed' | 'mismatch' | 'missing';

/** One re-check, as recorded. */
export interface ArchiveRecheck {
  backupId: string;
  startedAt: Date;
  finishedAt: Date;
  bytesRead: number;
  outcome: RecheckOutcome;
  detail: string | null;
  requestedBy: string;
}

/** A completed backup whose archive is due to be read again, most overdue first. */
export interface DueRecheck {
  id: string;
  resourceId: string;
  bytes: number;
}

/**
 * Completed backups of provisioned resources whose archive is due a re-check at `now`: one awaiting
 * re-verification at once; the newest verified backup of its resource when last proven more than
 * `newestEveryMs` ago; any other when last proven more than `everyMs` ago. "Last proven" is the last
 * re-check that passed, or the verification. Awaiting re-verification first, then the longest unproven.
 */
export async function listDueRechecks(
  db: Queryable,
  options: { now: Date; everyMs: number; newestEveryMs: number; limit: number },
): Promise<DueRecheck[]> {
  const result = await db.query<{ id: string; resource_id: string; bytes: string }>(
    `select id, resource_id, bytes from (
       select b.id, b.resource_id, b.bytes, b.reverification_requested_at,
         coalesce(b.rechecked_at, b.verified_at) as proven_at,
         b.reverification_requested_at is null and b.id = first_value(b.id) over (
           partition by b.resource_id
           order by (b.reverification_requested_at is null) desc, coalesce(b.started_at, b.created_at) desc, b.id desc
         ) as newest
       from backups b join resources r on r.id = b.resource_id
       where b.state = 'completed' and b.object_key is not null and b.sha256 is not null and b.bytes is not null
         and r.state = 'provisioned'
     ) c
     where reverification_requested_at is not null
        or proven_at is null
        or proven_at < $1::timestamptz - make_interval(secs => case when newest then $3::bigint else $2::bigint end / 1000.0)
     order by (reverification_requested_at is not null) desc, proven_at nulls first, id
     limit $4`,
    [options.now, options.everyMs, options.newestEveryMs, options.limit],
  );
  return result.rows.map((r) => ({ id: r.id, resourceId: r.resource_id, bytes: Number(r.bytes) }));
}

/** Bytes re-checks read that finished after `since` (what the hourly budget counts). */
export async function bytesRecheckedSince(db: Queryable, since: Date): Promise<number> {
  const result = await db.query<{ total: string | null }>(
    'select sum(bytes_read) as total from archive_rechecks where finished_at > $1',
    [since],
  );
  return Number(result.rows[0]?.total ?? 0);
}

export async function recordRecheck(db: Queryable, check: Omit<ArchiveRecheck, 'finishedAt'>): Promise<void> {
  await db.query(
    `insert into archive_rechecks (backup_id, started_at, bytes_read, outcome, detail, requested_by)
     values ($1, $2, $3, $4, $5, $6)`,
    [check.backupId, check.startedAt, check.bytesRead, check.outcome, check.detail, check.requestedBy],
  );
}

/** The newest re-check of a backup, if any ran. */
export async function latestRecheck(db: Queryable, backupId: string): Promise<ArchiveRecheck | undefined> {
  const result = await db.query<{
    started_at: Date;
    finished_at: Date;
    bytes_read: string;
    outcome: RecheckOutcome;
    detail: string | null;
    requested_by: string;
  }>(
    `select started_at, finished_at, bytes_read, outcome, detail, requested_by from archive_rechecks
     where backup_id = $1 order by id desc limit 1`,
    [backupId],
  );
  const row = result.rows[0];
  if (!row) return undefined;
  return {
    backupId,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    bytesRead: Number(row.bytes_read),
    outcome: row.outcome,
    detail: row.detail,
    requestedBy: row.requested_by,
  };
}

/**
 * Records that the archive was read again and matched the digest it was verified with (`sha256`, which
 * must still be the backup's). Clears a pending re-verification. Returns whether the backup was still
 * completed with that digest, and whether this cleared a re-verification flag.
 */
export async function markRechecked(
  db: Queryable,
  id: string,
  sha256: string,
): Promise<{ updated: boolean; reverified: boolean }> {
  const result = await db.query<{ attempt: number; was_flagged: boolean }>(
    `update backups b set rechecked_at = now(), reverification_requested_at = null, reverification_reason = null,
       updated_at = now()
     from (select id, reverification_requested_at is not null as was_flagged from backups where id = $1 for update) old
     where b.id = old.id and b.state = 'completed' and b.sha256 = $2
     returning b.attempt, old.was_flagged`,
    [id, sha256],
  );
  const row = result.rows[0];
  if (!row) return { updated: false, reverified: false };
  if (row.was_flagged) await recordEvent(db, id, row.attempt, 'reverified', 'a re-check read the archive back whole');
  return { updated: true, reverified: row.was_flagged };
}

/**
 * Ends a completed backup as `corrupt`: its stored archive no longer matches `sha256` (or is gone).
 * Records an `archive.corrupt` event, which notifications read. Returns false when the backup is no
 * longer completed with that digest (deleted, or already corrupt).
 */
export async function markCorrupt(db: Queryable, id: string, sha256: string, reason: string): Promise<boolean> {
  const result = await db.query<{ attempt: number }>(
    `update backups set state = 'corrupt', corrupt_at = now(), corruption_reason = $3, updated_at = now()
     where id = $1 and state = 'completed' and sha256 = $2 returning attempt`,
    [id, sha256, reason],
  );
  const row = result.rows[0];
  if (!row) return false;
  await recordEvent(db, id, row.attempt, 'archive.corrupt', reason);
  return true;
}
