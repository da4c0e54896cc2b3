import type { Backup } from '../../backups/backup.ts';
import { forkTimings, isAttemptState } from '../../backups/backup.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

/** A backup as the API shows it: state, progress, sizes, digest, verification and the fork. */
export function backupJson(backup: Backup) {
  const durationSeconds = backup.startedAt
    ? Math.round(((backup.finishedAt ?? new Date()).getTime() - backup.startedAt.getTime()) / 1000)
    : null;
  const { samples: _samples, ...progress } = backup.progress;
  return {
    id: backup.id,
    name: backup.name,
    trigger: backup.trigger,
    state: backup.state,
    phase: backup.phase,
    format: backup.format,
    requested_by: backup.requestedBy,
    attempt: backup.attempt,
    created_at: iso(backup.createdAt),
    started_at: iso(backup.startedAt),
    finished_at: iso(backup.finishedAt),
    duration_seconds: durationSeconds,
    progress: isAttemptState(backup.state) ? progress : null,
    source: {
      description: backup.sourceDescription,
      mode: backup.sourceMode,
      bytes: backup.sourceBytes,
      server_version: backup.serverVersion,
    },
    archive: {
      bytes: backup.bytes,
      sha256: backup.sha256,
      pg_dump_version: backup.pgDumpVersion,
      restore_command: backup.restoreCommand,
    },
    verification: backup.verifiedAt
      ? { verified_at: iso(backup.verifiedAt), table_count: backup.tableCount, toc_entries: backup.tocEntries }
      : null,
    // Its manifest was lost: kept, but neither downloadable nor counted until it is proven again.
    needs_reverification: backup.reverificationRequestedAt
      ? { since: iso(backup.reverificationRequestedAt), reason: backup.reverificationReason ?? null }
      : null,
    downloadable: backup.state === 'completed' && backup.verifiedAt !== null && !backup.reverificationRequestedAt,
    fork: backup.fork
      ? {
          name: backup.fork.addonName,
          plan: backup.fork.plan,
          state: backup.fork.state,
          requested_at: iso(backup.fork.requestedAt),
          ready_at: iso(backup.fork.readyAt),
          destroyed_at: iso(backup.fork.destroyedAt),
          ...forkSeconds(backup),
        }
      : null,
    failure: backup.failureKind ? { kind: backup.failureKind, reason: backup.failureReason } : null,
    ...recheckJson(backup),
  };
}

/** Issue 15: when the stored archive was last re-read and matched, and what a failed re-check found (state `corrupt`). */
function recheckJson(backup: Backup) {
  return {
    rechecked_at: iso(backup.recheckedAt ?? null),
    corruption: backup.corruptAt ? { found_at: iso(backup.corruptAt), reason: backup.corruptionReason ?? null } : null,
  };
}

function forkSeconds(backup: Backup) {
  const t = forkTimings(backup.fork!);
  return { ready_seconds: t.readySeconds, lived_seconds: t.livedSeconds };
}
