import { createHash } from 'node:crypto';
import type pg from 'pg';
import type { Logger } from '../logger.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import { isStorageFailure } from '../storage/errors.ts';
import { withAdvisoryLock } from '../db/advisory-lock.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { findBackup } from './backups.repo.ts';
import {
  bytesRecheckedSince,
  listDueRechecks,
  markCorrupt,
  markRechecked,
  recordRecheck,
  type RecheckOutcome,
} from './rechecks.repo.ts';

/** Every retained archive is read again at least this often. */
export const RECHECK_EVERY_MS = 30 * 86_400_000;
/** The newest verified backup of each resource, the one a restore would use, this often. */
export const RECHECK_NEWEST_EVERY_MS = 7 * 86_400_000;
/** Due backups one rolling pass looks at (the byte budget usually stops it sooner). */
const DUE_BATCH = 200;

export interface RecheckDeps {
  pool: pg.Pool;
  store: ObjectStore;
  logger: Logger;
}

/** What one re-check did. `skipped`: the backup is not (or no longer) a completed backup with an archive. */
export interface RecheckResult {
  outcome: RecheckOutcome | 'skipped';
  bytesRead: number;
  detail: string | null;
  /** A re-verification flag this pass cleared. */
  reverified?: boolean;
  /** A manifest sidecar this pass wrote again, as it was missing or did not match. */
  resealed?: boolean;
}

/**
 * Reads a completed backup's stored archive whole, recomputing its SHA-256 and size, and compares them
 * with what the backup was verified with. A match records the check (clearing a re-verification flag,
 * and writing the manifest sidecar again if it was lost); a mismatch or a missing object ends the backup
 * as `corrupt` (its links then answer 410, retention no longer counts it) and records an
 * `archive.corrupt` event. A store that fails to answer is neither: the error is thrown, for a retry.
 *
 * The verdict is written under the resource's prune lock, after reading the row again: a backup that
 * retention deleted meanwhile (object, then row) is not reported as corrupt.
 */
export async function recheckArchive(
  deps: RecheckDeps,
  backupId: string,
  requestedBy: string,
  signal?: AbortSignal,
): Promise<RecheckResult> {
  const backup = await findBackup(deps.pool, backupId);
  if (!backup || backup.state !== 'completed' || !backup.objectKey || !backup.sha256 || backup.bytes === null) {
    return { outcome: 'skipped', bytesRead: 0, detail: backup ? `the backup is ${backup.state}` : 'no such backup' };
  }
  const { objectKey: key, sha256: expected, bytes: expectedBytes } = backup;
  const startedAt = new Date();
  let read = await readWhole(deps.store, key, signal);
  // One bad read is not yet a corrupt archive: a changed or missing object must read so twice.
  if (read === null || read.bytes !== expectedBytes || read.sha256 !== expected) {
    read = await readWhole(deps.store, key, signal);
  }
  let outcome: RecheckOutcome;
  let detail: string | null = null;
  if (read === null) {
    outcome = 'missing';
    detail = 'its stored archive is gone from the store';
  } else if (read.bytes !== expectedBytes) {
    outcome = 'mismatch';
    detail = `its stored archive is ${read.bytes} bytes; ${expectedBytes} were verified`;
  } else if (read.sha256 !== expected) {
    outcome = 'mismatch';
    detail = `its stored archive's SHA-256 is ${read.sha256}; ${expected} was verified`;
  } else {
    outcome = 'passed';
  }
  const bytesRead = read?.bytes ?? 0;
  const result: RecheckResult = { outcome, bytesRead, detail };

  if (outcome === 'passed') {
    // A lost manifest (the janitor's re-verification flag) is written again from the proof just made.
    const head = await deps.store.head(key);
    if (!head?.manifest || head.manifest.sha256 !== expected || head.manifest.bytes !== expectedBytes) {
      await deps.store.reseal(key, {
        bytes: expectedBytes,
        sha256: expected,
        metadata: { 'backup-id': backup.id, attempt: String(backup.attempt) },
      });
      result.resealed = true;
    }
  }

  await withAdvisoryLock(deps.pool, 'backup-prune', backup.resourceId, async (db) => {
    const now = await findBackup(db, backupId);
    if (!now || now.state !== 'completed' || now.sha256 !== expected || now.objectKey !== key) {
      result.outcome = 'skipped';
      result.detail = now
        ? `the backup became ${now.state} during the check`
        : 'the backup was deleted during the check';
      return;
    }
    await recordRecheck(db, { backupId, startedAt, bytesRead, outcome, detail, requestedBy });
    if (outcome === 'passed') {
      const marked = await markRechecked(db, backupId, expected);
      result.reverified = marked.reverified;
      if (marked.reverified) {
        await recordAudit(db, {
          resourceId: backup.resourceId,
          actor: 'system',
          action: 'backup.reverified',
          detail: { backup: backup.name, resealed: result.resealed === true },
        });
      }
      return;
    }
    if (await markCorrupt(db, backupId, expected, detail!)) {
      await recordAudit(db, {
        resourceId: backup.resourceId,
        actor: 'system',
        action: 'backup.corrupt',
        detail: { backup: backup.name, reason: detail },
      });
      deps.logger.error({ backupId, key, outcome }, 'a re-check found a stored archive changed or gone');
    }
  });
  return result;
}

/**
 * One pass of the rolling re-check: due archives (see listDueRechecks), most overdue first, read one
 * after another while the bytes read in the last hour stay within `bytesPerHour`. An archive larger
 * than the whole budget is read only in an hour in which nothing else was, so it is still checked.
 */
export async function recheckDueArchives(
  deps: RecheckDeps,
  options: { bytesPerHour: number; now?: Date; signal?: AbortSignal },
): Promise<{ checked: Array<{ backupId: string } & RecheckResult>; deferred: number }> {
  const now = options.now ?? new Date();
  const due = await listDueRechecks(deps.pool, {
    now,
    everyMs: RECHECK_EVERY_MS,
    newestEveryMs: RECHECK_NEWEST_EVERY_MS,
    limit: DUE_BATCH,
  });
  const checked: Array<{ backupId: string } & RecheckResult> = [];
  let spent = await bytesRecheckedSince(deps.pool, new Date(now.getTime() - 3600_000));
  let index = 0;
  for (; index < due.length; index++) {
    if (options.signal?.aborted) break;
    const next = due[index]!;
    if (spent + next.bytes > options.bytesPerHour && spent > 0) break;
    const result = await recheckArchive(deps, next.id, 'system', options.signal);
    checked.push({ backupId: next.id, ...result });
    spent += result.bytesRead;
  }
  return { checked, deferred: due.length - index };
}

/** The stored bytes' size and SHA-256; null when the object is not there. */
async function readWhole(
  store: ObjectStore,
  key: string,
  signal: AbortSignal | undefined,
): Promise<{ bytes: number; sha256: string } | null> {
  let stream;
  try {
    stream = await store.read(key, signal ? { signal } : {});
  } catch (error) {
    if (isStorageFailure(error, 'not_found')) return null;
    throw error;
  }
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { bytes, sha256: hash.digest('hex') };
}
