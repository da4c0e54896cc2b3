import { withTransaction } from '../db/pool.ts';
import type { Backup } from '../backups/backup.ts';
import type { Plan } from '../resources/plans.ts';
import { emitEvent, type OutboxDeps } from './outbox.ts';
import { activateCondition, clearCondition, markConditionNotified } from './notification-conditions.repo.ts';

/** A database above this share of its plan's limit is "near" it. */
export const NEAR_LIMIT_SHARE = 0.8;
/** The near-limit warning repeats at most this often while it holds. */
const NEAR_LIMIT_REPEAT_MS = 7 * 86_400_000;

/** An attempt began: a line in the app's log stream. */
export async function noticeBackupStarted(deps: OutboxDeps, backup: Backup): Promise<void> {
  await emitEvent(deps, {
    resourceId: backup.resourceId,
    kind: 'backup.started',
    dedupeKey: `started:${backup.id}:${backup.attempt}`,
    payload: { backup: backup.name, backupId: backup.id, attempts: backup.attempt },
  });
}

/**
 * A backup completed and was verified: say so (with its size and duration), announce once that
 * backups work again when earlier ones had failed, and warn when the database nears the plan's limit.
 */
export async function noticeBackupCompleted(
  deps: OutboxDeps,
  backup: Backup,
  facts: { bytes: number; databaseBytes: number; plan: Plan },
): Promise<void> {
  const durationSeconds =
    backup.startedAt && backup.finishedAt
      ? Math.max(0, (backup.finishedAt.getTime() - backup.startedAt.getTime()) / 1000)
      : undefined;
  await emitEvent(deps, {
    resourceId: backup.resourceId,
    kind: 'backup.completed',
    dedupeKey: `completed:${backup.id}`,
    payload: {
      backup: backup.name,
      backupId: backup.id,
      bytes: facts.bytes,
      ...(durationSeconds !== undefined ? { durationSeconds } : {}),
    },
  });
  // The condition row is deleted by exactly one caller, in the transaction that records the event.
  await withTransaction(deps.pool, async (tx) => {
    if (!(await clearCondition(tx, backup.resourceId, 'backup_failing'))) return;
    await emitEvent(
      deps,
      {
        resourceId: backup.resourceId,
        kind: 'backup.recovered',
        dedupeKey: `recovered:${backup.id}`,
        payload: { backup: backup.name, backupId: backup.id },
      },
      { db: tx },
    );
  });
  await noticeDatabaseSize(deps, backup, facts.databaseBytes, facts.plan);
}

/** A backup failed after its last attempt: an alert, and the failing condition a later success clears. */
export async function noticeBackupFailed(
  deps: OutboxDeps,
  backup: Backup,
  failure: { kind: string; reason: string },
): Promise<void> {
  await withTransaction(deps.pool, async (tx) => {
    await activateCondition(tx, backup.resourceId, 'backup_failing', backup.finishedAt ?? new Date());
    await emitEvent(
      deps,
      {
        resourceId: backup.resourceId,
        kind: 'backup.failed',
        dedupeKey: `failed:${backup.id}`,
        payload: {
          backup: backup.name,
          backupId: backup.id,
          reason: failure.reason,
          detail: failure.kind,
          attempts: backup.attempt,
        },
      },
      { db: tx },
    );
  });
}

async function noticeDatabaseSize(deps: OutboxDeps, backup: Backup, databaseBytes: number, plan: Plan): Promise<void> {
  if (databaseBytes < NEAR_LIMIT_SHARE * plan.maxDatabaseBytes) {
    await clearCondition(deps.pool, backup.resourceId, 'near_limit');
    return;
  }
  const now = new Date();
  await withTransaction(deps.pool, async (tx) => {
    const state = await activateCondition(tx, backup.resourceId, 'near_limit', now);
    if (state.lastNotifiedAt && now.getTime() - state.lastNotifiedAt.getTime() < NEAR_LIMIT_REPEAT_MS) return;
    if (!(await markConditionNotified(tx, backup.resourceId, 'near_limit', state.lastNotifiedAt, now))) return;
    await emitEvent(
      deps,
      {
        resourceId: backup.resourceId,
        kind: 'database.near_limit',
        dedupeKey: `near_limit:${backup.id}`,
        payload: {
          backup: backup.name,
          databaseBytes,
          limitBytes: plan.maxDatabaseBytes,
          plan: plan.title,
        },
      },
      { db: tx },
    );
  });
}
