import { randomUUID } from 'node:crypto';
import type { Payload } from '../queue/queues.ts';
import { QUEUES } from '../queue/queues.ts';
import type { JobContext, JobDeps } from './deps.ts';
import { AppError } from '../errors.ts';
import { requestBackup, ALREADY_RUNNING } from '../backups/backups.service.ts';
import { insertBackup, markFailed } from '../backups/backups.repo.ts';
import { findSchedule } from '../backups/schedules.repo.ts';
import { slotKey } from '../backups/schedule.ts';

/**
 * A schedule tick. The slot key (resource and local day, or local hour) makes it at most one backup per
 * slot however often the slot fires: two workers, a retried tick, or the deliberate second daily fire
 * that covers a spring-forward gap all map to one key, and the backups table keeps keys unique. A slot
 * that fires while the previous backup still runs is recorded as a failed backup saying so, not dropped;
 * that record holds a key of its own (`<slot>:skipped`, once per slot), so a later fire of the same slot
 * (a daily slot fires again an hour later) still takes the backup once the earlier one has finished.
 */
export async function backupScheduled(
  deps: JobDeps,
  { resourceId }: Payload<'backupScheduled'>,
  job: JobContext,
): Promise<'started' | 'slot-taken' | 'skipped-busy' | 'no-schedule'> {
  const schedule = await findSchedule(deps.pool, resourceId);
  if (!schedule) return 'no-schedule';
  // The slot is when pg-boss created the tick, not when a busy worker got round to it.
  const tick = await deps.boss.getJobById(QUEUES.backupScheduled.name, job.id);
  const key = slotKey(resourceId, schedule, tick?.createdOn ?? new Date());
  try {
    const backup = await requestBackup(deps, resourceId, {
      trigger: 'scheduled',
      requestedBy: 'schedule',
      slotKey: key,
    });
    return backup ? 'started' : 'slot-taken';
  } catch (error) {
    if (!(error instanceof AppError) || error.code !== ALREADY_RUNNING) throw error;
    const skipped = await insertBackup(deps.pool, {
      id: randomUUID(),
      resourceId,
      trigger: 'scheduled',
      format: 'default',
      requestedBy: 'schedule',
      slotKey: `${key}:skipped`,
    });
    if (!skipped) return 'slot-taken';
    await markFailed(deps.pool, skipped.id, null, {
      kind: 'skipped',
      reason: 'the previous backup was still running when this one was due',
      final: true,
    });
    return 'skipped-busy';
  }
}
