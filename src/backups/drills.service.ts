import type pg from 'pg';
import { z } from 'zod';
import { unprocessable } from '../errors.ts';
import { parseOr422 } from '../validate.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { findResource } from '../resources/resources.repo.ts';
import { findPlan, type DrillPolicy } from '../resources/plans.ts';
import { findConnection } from '../heroku/connect-connections.repo.ts';
import { findSourceSetting } from './sources.repo.ts';
import { findDrillSettings, latestDrill, latestDrills, saveDrillSettings, type DrillRecord } from './drills.repo.ts';

/** The drill setting of a resource, what its plan allows, and why drills are not offered when they are not. */
export interface DrillOffer {
  policy: DrillPolicy;
  targetPlan: string | null;
  allowed: readonly DrillPolicy[];
  /** Null when drills can run; otherwise why not, in words for the page. */
  notOffered: string | null;
}

const DrillSettingsInput = z.strictObject({
  policy: z.enum(['off', 'every', 'weekly', 'monthly']),
  target_plan: z
    .string()
    .regex(/^[a-z0-9][a-z0-9-]{0,40}$/, 'target_plan must be a heroku-postgresql plan such as standard-0')
    .optional(),
});

export async function describeDrills(pool: pg.Pool, resourceId: string): Promise<DrillOffer> {
  const [resource, settings, source, connection] = await Promise.all([
    findResource(pool, resourceId),
    findDrillSettings(pool, resourceId),
    findSourceSetting(pool, resourceId),
    findConnection(pool, resourceId),
  ]);
  const allowed = (resource && findPlan(resource.plan)?.drillPolicies) ?? ['off'];
  let notOffered: string | null = null;
  if (allowed.length <= 1) notOffered = 'Restore drills are not part of this plan.';
  else if (source?.kind === 'direct')
    notOffered =
      'Restore drills need a fork to compare with: this add-on backs up a database URL given directly, which is not forked. (Naming a restore target that may be wiped is not available yet.)';
  else if (!connection?.scratchAppName)
    notOffered = 'Restore drills run on the app chosen to hold forks: connect Heroku and choose one in the settings.';
  return {
    policy: settings?.policy ?? 'off',
    targetPlan: settings?.targetPlan ?? null,
    allowed,
    notOffered,
  };
}

/** Sets how often drills run and the plan of the empty database they restore into (admins). */
export async function setDrillSettings(
  pool: pg.Pool,
  resourceId: string,
  input: unknown,
  actor: { label: string; ip?: string | null },
): Promise<DrillOffer> {
  const parsed = parseOr422(DrillSettingsInput, input ?? {});
  const offer = await describeDrills(pool, resourceId);
  if (!offer.allowed.includes(parsed.policy)) {
    throw unprocessable(`This plan allows restore drills: ${offer.allowed.join(', ')}.`);
  }
  const connection = await findConnection(pool, resourceId);
  const targetPlan = parsed.target_plan ?? offer.targetPlan ?? connection?.forkPlan ?? 'standard-0';
  await saveDrillSettings(pool, resourceId, { policy: parsed.policy, targetPlan, updatedBy: actor.label });
  await recordAudit(pool, {
    resourceId,
    actor: actor.label,
    action: 'drills.updated',
    detail: { policy: parsed.policy, targetPlan },
    ip: actor.ip ?? null,
  });
  return describeDrills(pool, resourceId);
}

export function drillOf(pool: pg.Pool, backupId: string): Promise<DrillRecord | undefined> {
  return latestDrill(pool, backupId);
}

export function drillsOf(pool: pg.Pool, backupIds: readonly string[]): Promise<Map<string, DrillRecord>> {
  return latestDrills(pool, backupIds);
}

/** A drill as `/api/v1/backups/{id}` shows it (issue 15's shape). */
export function drillJson(drill: DrillRecord | undefined) {
  if (!drill) return null;
  return {
    state: drill.state,
    startedAt: drill.startedAt?.toISOString() ?? null,
    finishedAt: drill.finishedAt?.toISOString() ?? null,
    restoreSeconds: drill.restoreSeconds,
    restoreMode: drill.restoreMode,
    restoreJobs: drill.restoreJobs,
    tablesCompared: drill.tablesCompared,
    tablesEqual: drill.tablesEqual,
    differences: drill.differences.map((d) => ({ table: d.table, kind: d.kind, detail: d.detail })),
    warnings: drill.warnings,
    reason: drill.failureReason,
  };
}
