/**
 * The states a backup moves through; completed means stored, proven and verified. A completed backup
 * whose stored archive later fails a re-check (its bytes changed, or it is gone) becomes corrupt.
 */
export const BACKUP_STATES = ['pending', 'running', 'verifying', 'completed', 'failed', 'canceled', 'corrupt'] as const;
export type BackupState = (typeof BACKUP_STATES)[number];
export type BackupTrigger = 'manual' | 'scheduled';
export type BackupFormat = 'default' | 'fast';

/** States a backup never leaves. */
export const FINAL_STATES: readonly BackupState[] = ['completed', 'failed', 'canceled', 'corrupt'];

/**
 * States of a backup that is not finished: queued, or an attempt runs or will retry it. The partial
 * index `backups_unfinished` (migration 0002) covers exactly these.
 */
export const ACTIVE_BACKUP_STATES = ['pending', 'running', 'verifying'] as const satisfies readonly BackupState[];

/** States in which an attempt holds the backup (its token fences every write). */
export const ATTEMPT_STATES = ['running', 'verifying'] as const satisfies readonly BackupState[];

/** Whether the backup is not finished yet (see ACTIVE_BACKUP_STATES). */
export const isActive = (state: BackupState): boolean =>
  (ACTIVE_BACKUP_STATES as readonly BackupState[]).includes(state);

/** Whether an attempt holds the backup (see ATTEMPT_STATES). */
export const isAttemptState = (state: BackupState): boolean =>
  (ATTEMPT_STATES as readonly BackupState[]).includes(state);

/** A backup as the rest of the code sees it. */
export interface Backup {
  id: string;
  resourceId: string;
  trigger: BackupTrigger;
  number: number;
  /** `b001` for manual, `a001` for scheduled, like PGBackups. */
  name: string;
  state: BackupState;
  phase: string | null;
  format: BackupFormat;
  requestedBy: string;
  slotKey: string | null;
  attempt: number;
  objectKey: string | null;
  bytes: number | null;
  sha256: string | null;
  sourceBytes: number | null;
  sourceDescription: string | null;
  serverVersion: string | null;
  pgDumpVersion: string | null;
  dumpCommand: string | null;
  restoreCommand: string | null;
  tableCount: number | null;
  tocEntries: number | null;
  progress: BackupProgress;
  failureKind: string | null;
  failureReason: string | null;
  cancelRequestedAt: Date | null;
  createdAt: Date;
  startedAt: Date | null;
  verifiedAt: Date | null;
  finishedAt: Date | null;
  /** How the last attempt read the database: a fork, a URL given directly, or directly because it could not be forked. */
  sourceMode: 'fork' | 'direct' | 'direct-fallback' | null;
  /** The fork the last attempt dumped, when it made one. */
  fork: BackupFork | null;
  /** Set while an attempt has asked Heroku for a fork it has not recorded yet (migration 0011). */
  forkIntentAt?: Date | null;
  /** Set when a completed backup's archive must be verified again, e.g. its manifest was lost (migration 0012). */
  reverificationRequestedAt?: Date | null;
  reverificationReason?: string | null;
  /** When the stored archive was last re-read and matched its digest (migration 0016). */
  recheckedAt?: Date | null;
  /** When a re-check found the archive changed or gone, and what it found (state `corrupt`). */
  corruptAt?: Date | null;
  corruptionReason?: string | null;
  /** How the last attempt captured the database, and why (migration 0014); null before it decided. */
  captureMode?: 'sharded' | 'single' | null;
  captureModeReason?: string | null;
  /** A sharded backup's own deadline (it may exceed the 24 hours of any one job). */
  deadlineAt?: Date | null;
}

/** A short-lived fork of the customer's database, from request to destruction. */
export interface BackupFork {
  addonName: string | null;
  /** heroku-postgresql plan without the service prefix. */
  plan: string | null;
  state: string | null;
  requestedAt: Date;
  readyAt: Date | null;
  destroyedAt: Date | null;
}

/** Seconds the fork took to become ready, and how long it lived (so far, while it stands). */
export function forkTimings(
  fork: BackupFork,
  now: Date = new Date(),
): { readySeconds: number | null; livedSeconds: number } {
  const seconds = (from: Date, to: Date) => Math.max(0, Math.round((to.getTime() - from.getTime()) / 1000));
  return {
    readySeconds: fork.readyAt ? seconds(fork.requestedAt, fork.readyAt) : null,
    livedSeconds: seconds(fork.requestedAt, fork.destroyedAt ?? now),
  };
}

/** What a running backup reports about itself, refreshed about once a second. */
export interface BackupProgress {
  bytes?: number;
  rawBytes?: number;
  bytesPerSecond?: number;
  /** The database bytes the dump covers (tables and large objects), and how many of them are estimated done. */
  sourceBytes?: number;
  sourceBytesDone?: number;
  sourceBytesPerSecond?: number;
  etaSeconds?: number | null;
  currentTable?: string | null;
  tablesDumped?: number;
  updatedAt?: string;
  /** [seconds since the attempt started, bytes pg_dump had written], at most MAX_SAMPLES, for the throughput chart. */
  samples?: Array<[number, number]>;
}

/** PGBackups-style name: prefix by trigger, number zero-padded to three digits. */
export function backupName(trigger: BackupTrigger, number: number): string {
  return `${trigger === 'manual' ? 'b' : 'a'}${String(number).padStart(3, '0')}`;
}

/**
 * Where an attempt's archive is stored. Each attempt has its own key, so a stale attempt can never
 * overwrite the object of a newer one; keys are built here, never from input.
 */
export function objectKeyFor(
  resourceId: string,
  backupId: string,
  attempt: number,
  extension: '.dump' | '.dump.zst',
): string {
  return `tenants/${resourceId}/${backupId}/attempt-${attempt}${extension}`;
}

/**
 * Where one piece of a sharded attempt is stored, beside the attempt's archive; the prefix names every
 * piece of the attempt, so they can be listed and removed together.
 */
export function pieceKeyPrefix(resourceId: string, backupId: string, attempt: number): string {
  return `tenants/${resourceId}/${backupId}/attempt-${attempt}.pieces/`;
}

/** Each run of a piece writes its own object, so a run that lost its claim can never overwrite the one recorded done. */
export function pieceKeyFor(
  resourceId: string,
  backupId: string,
  attempt: number,
  pieceNo: number,
  run: number,
): string {
  return `${pieceKeyPrefix(resourceId, backupId, attempt)}${String(pieceNo).padStart(5, '0')}.run-${run}.piece`;
}
