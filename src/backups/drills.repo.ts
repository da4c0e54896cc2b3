import type { Queryable } from '../db/pool.ts';
import type { DrillPolicy } from '../resources/plans.ts';
import { recordEvent } from './backup-events.repo.ts';

/** A restore drill's state, as the API shows it. */
export type DrillState = 'pending' | 'running' | 'passed' | 'failed' | 'skipped';

export interface DrillDifferenceRecord {
  table: string;
  kind: string;
  detail: string;
}

/** One restore drill of one backup (migration 0016). */
export interface DrillRecord {
  id: string;
  backupId: string;
  resourceId: string;
  state: DrillState;
  startedAt: Date | null;
  finishedAt: Date | null;
  heartbeatAt: Date | null;
  restoreSeconds: number | null;
  restoreMode: string | null;
  restoreJobs: number | null;
  restoreExitCode: number | null;
  warnings: string[];
  tablesCompared: number | null;
  tablesEqual: number | null;
  differences: DrillDifferenceRecord[];
  failureReason: string | null;
}

/** The empty database a drill restored into, while it may still stand. */
export interface DrillTarget {
  drillId: string;
  backupId: string;
  resourceId: string;
  appName: string;
  attachmentName: string;
  intentAt: Date;
  addonId: string | null;
}

export interface DrillSettings {
  policy: DrillPolicy;
  targetPlan: string;
  updatedBy: string;
  updatedAt: Date;
}

const COLUMNS = `id, backup_id, resource_id, state, started_at, finished_at, heartbeat_at, restore_seconds, restore_mode,
  restore_jobs, restore_exit_code, warnings, tables_compared, tables_equal, differences, failure_reason`;

type Row = Record<string, unknown>;
const num = (value: unknown) => (value === null || value === undefined ? null : Number(value));

function toDrill(r: Row): DrillRecord {
  return {
    id: r.id as string,
    backupId: r.backup_id as string,
    resourceId: r.resource_id as string,
    state: r.state as DrillState,
    startedAt: r.started_at as Date | null,
    finishedAt: r.finished_at as Date | null,
    heartbeatAt: r.heartbeat_at as Date | null,
    restoreSeconds: num(r.restore_seconds),
    restoreMode: r.restore_mode as string | null,
    restoreJobs: r.restore_jobs as number | null,
    restoreExitCode: r.restore_exit_code as number | null,
    warnings: r.warnings as string[],
    tablesCompared: r.tables_compared as number | null,
    tablesEqual: r.tables_equal as number | null,
    differences: r.differences as DrillDifferenceRecord[],
    failureReason: r.failure_reason as string | null,
  };
}

export async function findDrillSettings(db: Queryable, resourceId: string): Promise<DrillSettings | undefined> {
  const result = await db.query<{ policy: DrillPolicy; target_plan: string; updated_by: string; updated_at: Date }>(
    'select policy, target_plan, updated_by, updated_at from drill_settings where resource_id = $1',
    [resourceId],
  );
  const row = result.rows[0];
  return (
    row && { policy: row.policy, targetPlan: row.target_plan, updatedBy: row.updated_by, updatedAt: row.updated_at }
  );
}

export async function saveDrillSettings(
  db: Queryable,
  resourceId: string,
  settings: { policy: DrillPolicy; targetPlan: string; updatedBy: string },
): Promise<void> {
  await db.query(
    `insert into drill_settings (resource_id, policy, target_plan, updated_by) values ($1, $2, $3, $4)
     on conflict (resource_id) do update set policy = $2, target_plan = $3, updated_by = $4, updated_at = now()`,
    [resourceId, settings.policy, settings.targetPlan, settings.updatedBy],
  );
}

/** When the resource's last drill that ran to a verdict started (the weekly and monthly policies count from it). */
export async function lastDrillAt(db: Queryable, resourceId: string): Promise<Date | null> {
  const result = await db.query<{ at: Date | null }>(
    `select max(coalesce(started_at, finished_at)) as at from restore_drills
     where resource_id = $1 and state in ('passed', 'failed', 'skipped')`,
    [resourceId],
  );
  return result.rows[0]?.at ?? null;
}

/** A drill starting now, beating. */
export async function insertRunningDrill(
  db: Queryable,
  drill: { id: string; backupId: string; resourceId: string },
): Promise<void> {
  await db.query(
    `insert into restore_drills (id, backup_id, resource_id, state, started_at, heartbeat_at)
     values ($1, $2, $3, 'running', now(), now())`,
    [drill.id, drill.backupId, drill.resourceId],
  );
}

/** A drill that was due but cannot run (e.g. the fork is gone), recorded as skipped with why. */
export async function insertSkippedDrill(
  db: Queryable,
  drill: { id: string; backupId: string; resourceId: string; reason: string },
): Promise<void> {
  await db.query(
    `insert into restore_drills (id, backup_id, resource_id, state, finished_at, failure_reason)
     values ($1, $2, $3, 'skipped', now(), $4)`,
    [drill.id, drill.backupId, drill.resourceId, drill.reason],
  );
}

export async function beatDrill(db: Queryable, id: string): Promise<void> {
  await db.query(`update restore_drills set heartbeat_at = now() where id = $1 and state = 'running'`, [id]);
}

export async function recordDrillTargetIntent(
  db: Queryable,
  id: string,
  target: { appName: string; attachmentName: string },
): Promise<void> {
  await db.query(
    `update restore_drills set target_app = $2, target_attachment = $3, target_intent_at = now() where id = $1`,
    [id, target.appName, target.attachmentName],
  );
}

export async function recordDrillTarget(
  db: Queryable,
  id: string,
  addon: { addonId: string; addonName: string },
): Promise<void> {
  await db.query('update restore_drills set target_addon_id = $2, target_addon_name = $3 where id = $1', [
    id,
    addon.addonId,
    addon.addonName,
  ]);
}

export async function markDrillTargetDestroyed(db: Queryable, id: string): Promise<void> {
  await db.query(
    'update restore_drills set target_destroyed_at = now() where id = $1 and target_destroyed_at is null',
    [id],
  );
}

/** The verdict of a drill that ran; records `drill.passed` or `drill.failed` in the backup's events. */
export async function finishDrill(
  db: Queryable,
  id: string,
  result: {
    passed: boolean;
    restoreSeconds: number;
    restoreMode: string;
    restoreJobs: number;
    restoreExitCode: number | null;
    warnings: string[];
    tablesCompared: number;
    tablesEqual: number;
    differences: DrillDifferenceRecord[];
  },
): Promise<boolean> {
  const state = result.passed ? 'passed' : 'failed';
  const updated = await db.query<{ backup_id: string }>(
    `update restore_drills set state = $2, finished_at = now(), restore_seconds = $3, restore_mode = $4, restore_jobs = $5,
       restore_exit_code = $6, warnings = $7, tables_compared = $8, tables_equal = $9, differences = $10,
       failure_reason = $11
     where id = $1 and state = 'running' returning backup_id`,
    [
      id,
      state,
      result.restoreSeconds,
      result.restoreMode,
      result.restoreJobs,
      result.restoreExitCode,
      JSON.stringify(result.warnings),
      result.tablesCompared,
      result.tablesEqual,
      JSON.stringify(result.differences),
      result.passed
        ? null
        : result.differences.length > 0
          ? `${result.differences.length} difference(s) between the restored database and the fork`
          : `pg_restore exited with ${String(result.restoreExitCode)}`,
    ],
  );
  const row = updated.rows[0];
  if (!row) return false;
  const detail = `${result.tablesEqual} of ${result.tablesCompared} tables equal; restored in ${result.restoreSeconds} s`;
  await recordEvent(db, row.backup_id, await attemptOf(db, row.backup_id), `drill.${state}`, detail);
  return true;
}

/** Ends a running drill as failed with `reason` (an error, or its worker stopped); records `drill.failed`. */
export async function failDrill(db: Queryable, id: string, reason: string): Promise<boolean> {
  const updated = await db.query<{ backup_id: string }>(
    `update restore_drills set state = 'failed', finished_at = now(), failure_reason = $2
     where id = $1 and state = 'running' returning backup_id`,
    [id, reason],
  );
  const row = updated.rows[0];
  if (!row) return false;
  await recordEvent(db, row.backup_id, await attemptOf(db, row.backup_id), 'drill.failed', reason);
  return true;
}

async function attemptOf(db: Queryable, backupId: string): Promise<number> {
  const result = await db.query<{ attempt: number }>('select attempt from backups where id = $1', [backupId]);
  return result.rows[0]?.attempt ?? 0;
}

/** The newest drill of a backup. */
export async function latestDrill(db: Queryable, backupId: string): Promise<DrillRecord | undefined> {
  const result = await db.query<Row>(
    `select ${COLUMNS} from restore_drills where backup_id = $1 order by created_at desc limit 1`,
    [backupId],
  );
  return result.rows[0] && toDrill(result.rows[0]);
}

/** The newest drill of each of these backups (the list's badges). */
export async function latestDrills(db: Queryable, backupIds: readonly string[]): Promise<Map<string, DrillRecord>> {
  if (backupIds.length === 0) return new Map();
  const result = await db.query<Row>(
    `select distinct on (backup_id) ${COLUMNS} from restore_drills where backup_id = any($1::uuid[])
     order by backup_id, created_at desc`,
    [backupIds],
  );
  return new Map(result.rows.map((r) => [r.backup_id as string, toDrill(r)]));
}

/** Backups of the resource with a passed drill (retention keeps the newest of them). */
export async function listDrillPassedBackupIds(db: Queryable, resourceId: string): Promise<Set<string>> {
  const result = await db.query<{ backup_id: string }>(
    `select distinct backup_id from restore_drills where resource_id = $1 and state = 'passed'`,
    [resourceId],
  );
  return new Set(result.rows.map((r) => r.backup_id));
}

/** Running drills whose worker stopped beating before `before`. */
export async function listDeadDrills(db: Queryable, before: Date): Promise<string[]> {
  const result = await db.query<{ id: string }>(
    `select id from restore_drills where state = 'running' and heartbeat_at < $1`,
    [before],
  );
  return result.rows.map((r) => r.id);
}

/** Drill databases not destroyed whose drill is over (or whose worker stopped beating before `before`). */
export async function listDrillTargetsToReap(db: Queryable, before: Date): Promise<DrillTarget[]> {
  const result = await db.query<{
    id: string;
    backup_id: string;
    resource_id: string;
    target_app: string;
    target_attachment: string;
    target_intent_at: Date;
    target_addon_id: string | null;
  }>(
    `select id, backup_id, resource_id, target_app, target_attachment, target_intent_at, target_addon_id
     from restore_drills where target_intent_at is not null and target_destroyed_at is null
       and (state <> 'running' or heartbeat_at < $1)`,
    [before],
  );
  return result.rows.map((r) => ({
    drillId: r.id,
    backupId: r.backup_id,
    resourceId: r.resource_id,
    appName: r.target_app,
    attachmentName: r.target_attachment,
    intentAt: r.target_intent_at,
    addonId: r.target_addon_id,
  }));
}

/** Every drill database of one resource not yet destroyed (deprovision). */
export async function listResourceDrillTargets(db: Queryable, resourceId: string): Promise<DrillTarget[]> {
  const all = await listDrillTargetsToReap(db, new Date(8_640_000_000_000_000));
  return all.filter((t) => t.resourceId === resourceId);
}

/** Whether a drill of the resource runs and still beats (within `silentMs`). */
export async function hasRunningDrill(db: Queryable, resourceId: string, silentMs: number): Promise<boolean> {
  const result = await db.query(
    `select 1 from restore_drills where resource_id = $1 and state = 'running'
       and heartbeat_at > now() - make_interval(secs => $2::bigint / 1000.0) limit 1`,
    [resourceId, silentMs],
  );
  return (result.rowCount ?? 0) > 0;
}
