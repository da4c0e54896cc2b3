import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import { withTransaction } from '../db/pool.ts';
import { notFound } from '../errors.ts';
import { parseOr422 } from '../validate.ts';
import { findResource, lockResource } from '../resources/resources.repo.ts';
import { findPlan } from '../resources/plans.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { QUEUES } from '../queue/queues.ts';
import { bossDb } from '../queue/send.ts';
import { cronFor, nextRuns, scheduleSchemaFor, type Schedule } from './schedule.ts';
import { saveSchedule, deleteSchedule, findSchedule } from './schedules.repo.ts';
import { listResourceBackups } from './backups.repo.ts';
import { decideRetention, scheduledTiersText } from './retention.ts';

export interface SchedulesDeps {
  pool: pg.Pool;
  boss: PgBoss;
}

/**
 * Sets a resource's schedule: validated against its plan (422 naming the problem), stored, and given
 * to pg-boss as a cron keyed by the resource, so setting it again replaces it rather than adding one.
 */
export async function setSchedule(
  deps: SchedulesDeps,
  resourceId: string,
  input: unknown,
  updatedBy: string,
  ip: string | null = null,
): Promise<Schedule> {
  // pg-boss's cron is written in the same transaction as our row: the two never disagree, whichever of
  // two saves at once commits last, and a failed cron write saves nothing. The resource is locked, so
  // a plan change (which checks the schedule under the same lock) cannot slip between the check
  // against the plan and the save.
  return withTransaction(deps.pool, async (tx) => {
    const resource = await lockResource(tx, resourceId);
    if (!resource || resource.state !== 'provisioned') throw notFound('add-on resource');
    const schedule = parseOr422(scheduleSchemaFor(findPlan(resource.plan)!), input);
    const { cron, tz } = cronFor(schedule);
    await saveSchedule(tx, resourceId, schedule, updatedBy);
    await recordAudit(tx, { resourceId, actor: updatedBy, action: 'schedule.set', detail: { ...schedule }, ip });
    await deps.boss.schedule(
      QUEUES.backupScheduled.name,
      cron,
      { resourceId },
      { tz, key: resourceId, db: bossDb(tx) },
    );
    return schedule;
  });
}

/** Stops scheduled backups for a resource (also on deprovision). Safe to repeat. */
export async function removeSchedule(
  deps: SchedulesDeps,
  resourceId: string,
  updatedBy: string,
  ip: string | null = null,
): Promise<void> {
  await withTransaction(deps.pool, async (tx) => {
    if (await deleteSchedule(tx, resourceId)) {
      await recordAudit(tx, { resourceId, actor: updatedBy, action: 'schedule.removed', ip });
    }
    await deps.boss.unschedule(QUEUES.backupScheduled.name, resourceId, { db: bossDb(tx) });
  });
}

/**
 * What the settings page and `GET /api/v1/schedule` show: the schedule (or null), its next runs, what
 * the plan allows, and a preview of retention applied to the backups as they are now: which are kept
 * and why, and which the next prune would delete.
 */
export async function describeSchedule(deps: Pick<SchedulesDeps, 'pool'>, resourceId: string, now: Date = new Date()) {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource) throw notFound('add-on resource');
  const plan = findPlan(resource.plan)!;
  const schedule = (await findSchedule(deps.pool, resourceId)) ?? null;
  const backups = await listResourceBackups(deps.pool, resourceId, 100_000);
  const decision = decideRetention({ backups, retention: plan.retention, timeZone: schedule?.timeZone ?? 'UTC', now });
  const names = new Map(backups.map((b) => [b.id, b.name]));
  return {
    schedule,
    nextRuns: schedule ? nextRuns(schedule, now, 5) : [],
    plan: {
      title: plan.title,
      frequencies: plan.scheduleFrequencies,
      retention: plan.retention,
      scheduledTiers: scheduledTiersText(plan.retention),
    },
    retention: {
      keep: decision.keep.map((k) => ({ id: k.id, name: names.get(k.id)!, reasons: k.reasons.map((r) => r.text) })),
      delete: decision.delete.map((d) => ({ id: d.id, name: names.get(d.id)!, reason: d.reason })),
    },
  };
}
