import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import type { Logger } from '../logger.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { Backup } from '../backups/backup.ts';
import { findPlan, type DrillPolicy, type PlanCatalogue } from '../resources/plans.ts';
import { findResource } from '../resources/resources.repo.ts';
import { findConnection } from '../heroku/connect-connections.repo.ts';
import { withConnectApi, type ConnectDeps } from '../heroku/connect-authorization.ts';
import { PlatformApiError } from '../heroku/platform-api.ts';
import {
  parseDatabaseUrl,
  requireTls,
  runRestoreDrill,
  type HostPolicy,
  type ResolvedSource,
  type RestoreDrillResult,
} from '../engine/index.ts';
import {
  beatDrill,
  failDrill,
  finishDrill,
  findDrillSettings,
  insertRunningDrill,
  insertSkippedDrill,
  lastDrillAt,
  markDrillTargetDestroyed,
  recordDrillTarget,
  recordDrillTargetIntent,
  type DrillTarget,
} from '../backups/drills.repo.ts';
import { toSourceFailure, whyNotReady } from './fork-lifecycle.ts';
import { destroyUnrecordedFork } from './fork-teardown.ts';

const DAY_MS = 86_400_000;
const HEARTBEAT_MS = 30_000;
/** The empty database must be ready within this long, or the drill fails (its add-on is destroyed). */
const TARGET_READY_TIMEOUT_MS = 2 * 3600_000;

export interface DrillDeps {
  pool: pg.Pool;
  store: ObjectStore;
  logger: Logger;
  connect?: ConnectDeps;
  hosts?: HostPolicy;
  plans?: PlanCatalogue;
  drills?: {
    /** Archives up to this size are spooled to local disk for pg_restore -j; larger ones stream into one job. */
    spoolMaxBytes?: number;
    spoolDir?: string;
    /** How often to look whether the empty database is ready (tests: fast). */
    pollIntervalMs?: number;
    /** Test-only (never set in production): SQL run on the restored database before the comparison. */
    alterRestoredSql?: string;
  };
}

/** Whether a drill is due after this backup, by the resource's setting, its plan, and the last drill. */
export function drillDue(policy: DrillPolicy, allowed: readonly DrillPolicy[], last: Date | null, now: Date): boolean {
  if (policy === 'off' || !allowed.includes(policy)) return false;
  if (policy === 'every' || last === null) return true;
  return now.getTime() - last.getTime() >= (policy === 'weekly' ? 7 : 30) * DAY_MS;
}

/** `BIGBACKUP_DRILL_3F2A1B9C_B001`: like the fork's attachment name, one per backup attempt. */
export function drillAttachmentName(backup: Pick<Backup, 'name' | 'attempt' | 'resourceId'>): string {
  const resource = backup.resourceId.replace(/-/g, '').slice(0, 8).toUpperCase();
  return `BIGBACKUP_DRILL_${resource}_${backup.name.toUpperCase()}${backup.attempt > 1 ? `_${backup.attempt}` : ''}`;
}

/**
 * A restore drill after a verified backup of a fork, while the fork still stands (the caller destroys
 * it afterwards): when the resource's drill setting makes one due, an empty Heroku Postgres database of
 * the chosen plan is created on the scratch app, the stored archive is restored into it with stock
 * pg_restore, the two are compared table by table (engine/restore-drill.ts), the evidence is recorded
 * (`restore_drills`, and a `drill.passed` or `drill.failed` backup event), and the empty database is
 * destroyed on every exit path; one that could not be destroyed is left to the fork janitor, which
 * also fails a drill whose worker died. Never throws: the backup is verified whatever the drill finds.
 */
export async function drillAfterBackup(
  deps: DrillDeps,
  run: {
    backup: Backup;
    /** The fork the archive was dumped from; null when the database could not be forked (the drill is skipped). */
    fork: ResolvedSource | null;
    archive: { key: string; bytes: number };
    pgRestore: string;
    log: (line: string) => void;
    signal: AbortSignal;
  },
): Promise<'not-due' | 'skipped' | 'passed' | 'failed'> {
  const { backup, log } = run;
  const resource = await findResource(deps.pool, backup.resourceId);
  const plan = resource && findPlan(resource.plan, deps.plans);
  const settings = await findDrillSettings(deps.pool, backup.resourceId);
  const connection = await findConnection(deps.pool, backup.resourceId);
  if (!plan || !settings || !connection?.scratchAppName) return 'not-due';
  if (
    !drillDue(
      settings.policy,
      plan.drillPolicies ?? ['off'],
      await lastDrillAt(deps.pool, backup.resourceId),
      new Date(),
    )
  )
    return 'not-due';
  const drillId = randomUUID();
  if (!run.fork) {
    await insertSkippedDrill(deps.pool, {
      id: drillId,
      backupId: backup.id,
      resourceId: backup.resourceId,
      reason: 'the database could not be forked, so there is no unchanged copy to compare a restore with',
    });
    log('restore drill skipped: the database was dumped directly, without a fork to compare with');
    return 'skipped';
  }
  const fork = run.fork;
  await insertRunningDrill(deps.pool, { id: drillId, backupId: backup.id, resourceId: backup.resourceId });
  // Stops with the backup job, and on deprovision, which the heartbeat looks for.
  const stopping = new AbortController();
  const signal = AbortSignal.any([run.signal, stopping.signal]);
  const beat = setInterval(() => {
    void beatDrill(deps.pool, drillId)
      .then(() => findResource(deps.pool, backup.resourceId))
      .then((now) => {
        if (now?.state !== 'provisioned') stopping.abort(new Error('the add-on was removed during the drill'));
      })
      .catch(() => {});
  }, HEARTBEAT_MS);
  const target: DrillTarget = {
    drillId,
    backupId: backup.id,
    resourceId: backup.resourceId,
    appName: connection.scratchAppName,
    attachmentName: drillAttachmentName(backup),
    intentAt: new Date(),
    addonId: null,
  };
  try {
    log(`restore drill: creating an empty heroku-postgresql:${settings.targetPlan} database on ${target.appName}`);
    const url = await createTarget(deps, target, settings.targetPlan, signal);
    log('restore drill: restoring the stored archive into it');
    const testSql = deps.drills?.alterRestoredSql;
    const result: RestoreDrillResult = await runRestoreDrill({
      store: deps.store,
      key: run.archive.key,
      bytes: run.archive.bytes,
      reference: fork.connection,
      target: requireTls(parseDatabaseUrl(url)),
      pgRestore: run.pgRestore,
      jobs: Math.max(2, plan.parallelStreams * 2),
      spool: {
        maxBytes: deps.drills?.spoolMaxBytes ?? 50 * 1024 ** 3,
        ...(deps.drills?.spoolDir ? { dir: deps.drills.spoolDir } : {}),
      },
      ...(deps.hosts ? { hosts: deps.hosts } : {}),
      signal,
      ...(testSql ? { beforeCompare: async (client) => void (await client.query(testSql)) } : {}),
    });
    await finishDrill(deps.pool, drillId, {
      passed: result.passed,
      restoreSeconds: result.restore.seconds,
      restoreMode: result.restore.mode,
      restoreJobs: result.restore.jobs,
      restoreExitCode: result.restore.exitCode,
      warnings: result.restore.warnings,
      tablesCompared: result.tablesCompared,
      tablesEqual: result.tablesEqual,
      differences: result.differences,
    });
    log(
      `restore drill ${result.passed ? 'passed' : 'FAILED'}: restored in ${result.restore.seconds} s (${result.restore.mode}, ${result.restore.jobs} job(s)); ${result.tablesEqual} of ${result.tablesCompared} tables equal` +
        (result.differences.length ? `; ${result.differences.length} difference(s)` : ''),
    );
    return result.passed ? 'passed' : 'failed';
  } catch (error) {
    const reason = (error as Error).message?.replace(/postgres(ql)?:\/\/\S+/g, '[database URL]') ?? String(error);
    await failDrill(deps.pool, drillId, `the drill could not run: ${reason}`).catch(() => {});
    log(`restore drill failed: ${reason}`);
    deps.logger.warn({ err: error, backupId: backup.id }, 'restore drill failed');
    return 'failed';
  } finally {
    clearInterval(beat);
    await destroyDrillTarget(deps, target).catch((error: unknown) => {
      deps.logger.warn({ err: error, drillId }, 'the drill database could not be destroyed yet; the fork janitor will');
    });
  }
}

/** Creates the empty database (intent first, then the add-on) and waits until it accepts connections; its URL. */
async function createTarget(deps: DrillDeps, target: DrillTarget, plan: string, signal: AbortSignal): Promise<string> {
  const heroku = async <T>(fn: Parameters<typeof withConnectApi<T>>[2]): Promise<T> => {
    if (!deps.connect) throw new Error('connecting a Heroku account is not configured on this server');
    try {
      return await withConnectApi(deps.connect, target.resourceId, fn);
    } catch (error) {
      throw toSourceFailure(error);
    }
  };
  await recordDrillTargetIntent(deps.pool, target.drillId, target);
  const addon = await heroku((api) =>
    api.createDatabase({
      app: target.appName,
      plan: `heroku-postgresql:${plan}`,
      attachmentName: target.attachmentName,
    }),
  );
  target.addonId = addon.id;
  await recordDrillTarget(deps.pool, target.drillId, { addonId: addon.id, addonName: addon.name });
  const deadline = Date.now() + TARGET_READY_TIMEOUT_MS;
  let interval = deps.drills?.pollIntervalMs ?? 5000;
  for (;;) {
    const state = await heroku((api) => api.appAddon(target.appName, addon.id));
    if (state.state === 'deprovisioned') throw new Error('the drill database was deprovisioned before it was ready');
    if (state.state === 'provisioned') {
      const url = (await heroku((api) => api.configVars(target.appName)))[`${target.attachmentName}_URL`];
      if (url && (await whyNotReady(url, deps.hosts)) === null) return url;
    }
    if (Date.now() > deadline) throw new Error('the drill database was not ready in time');
    await sleep(interval, undefined, { signal });
    interval = Math.min(Math.round(interval * 1.5), 60_000);
  }
}

/**
 * Destroys a drill's empty database: the recorded add-on, or, when the create never answered, the one
 * found under its attachment name. Idempotent (404 is destroyed). Used by the drill and the fork janitor.
 */
export async function destroyDrillTarget(
  deps: { pool: pg.Pool; connect?: ConnectDeps },
  target: DrillTarget,
): Promise<void> {
  if (!deps.connect) throw new Error('cannot destroy the drill database: connecting Heroku is not configured');
  if (target.addonId) {
    const addonId = target.addonId;
    await withConnectApi(deps.connect, target.resourceId, async (api) => {
      try {
        await api.deleteAddon(target.appName, addonId);
      } catch (error) {
        if (!(error instanceof PlatformApiError && error.statusCode === 404)) throw error;
      }
    });
  } else {
    await destroyUnrecordedFork(deps, {
      backupId: target.backupId,
      resourceId: target.resourceId,
      appName: target.appName,
      attachmentName: target.attachmentName,
      at: target.intentAt,
    });
  }
  await markDrillTargetDestroyed(deps.pool, target.drillId);
}
