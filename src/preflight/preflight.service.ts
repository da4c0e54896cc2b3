import type pg from 'pg';
import type { SecretBox } from '../crypto/secret-box.ts';
import {
  connectProblem,
  herokuSource,
  listPgBinaries,
  surveyDatabase,
  type ConnectionParams,
  type DatabaseSurvey,
  type HostPolicy,
} from '../engine/index.ts';
import { conflict, notFound } from '../errors.ts';
import { isBackupFailure } from '../shared/backup-failure.ts';
import { findResource } from '../resources/resources.repo.ts';
import { findPlan, type Plan, type PlanCatalogue } from '../resources/plans.ts';
import { findSourceSetting, openDirectSource, type SourceSetting } from '../backups/sources.repo.ts';
import { ConnectionUnavailableError, withConnectApi, type ConnectDeps } from '../heroku/connect-authorization.ts';
import { assessSurvey, type CaptureMode } from './assess-survey.ts';
import { MEASURED_BACKUPS, measuredThroughput } from './duration-estimate.ts';
import type { Finding, PreflightReport, PreflightTrigger } from './finding.ts';
import { insertReport, listRecentCompletedBackups } from './preflight.repo.ts';

/** What a pre-flight check needs. */
export interface PreflightDeps {
  pool: pg.Pool;
  secrets: SecretBox;
  /** The customer's Heroku grant, to read a Heroku source's URL; absent, such a source cannot be checked. */
  connect?: ConnectDeps;
  /** Which hosts a source may point at; public ones only when absent. */
  hosts?: HostPolicy;
  /** A configured folder of PostgreSQL client binaries (PG_BIN_DIR). */
  pgBinDir?: string;
  plans?: PlanCatalogue;
  /** Each catalog query's limit; 15 s by default. */
  statementTimeoutMs?: number;
}

/** The database could not be reached or resolved; the report says so instead of surveying it. */
class Unreachable extends Error {}

/**
 * Checks the resource's database now: resolves its source as a backup would (a direct URL, or a Heroku
 * attachment's URL read with the customer's grant; the check reads the database itself, never a
 * fork), reads its catalog, and stores the findings. A database that cannot be reached gives a report
 * saying so. Refused (409) when the resource has no source yet.
 */
export async function checkResource(
  deps: PreflightDeps,
  resourceId: string,
  trigger: Exclude<PreflightTrigger, 'backup'>,
): Promise<PreflightReport> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource) throw notFound('add-on');
  const plan = findPlan(resource.plan, deps.plans);
  if (!plan) throw new Error(`the resource is on plan ${resource.plan}, which the catalogue does not have`);
  const setting = await findSourceSetting(deps.pool, resourceId);
  if (!setting) throw conflict('There is no database to check yet: set a database URL or connect Heroku first.');
  const capture: CaptureMode = setting.kind === 'heroku' ? 'fork' : 'direct';
  let survey: DatabaseSurvey;
  try {
    const connection = await resolveConnection(deps, resourceId, setting);
    survey = await surveyDatabase(connection, surveyOptions(deps));
  } catch (error) {
    return insertReport(deps.pool, {
      resourceId,
      trigger,
      databaseBytes: null,
      findings: [unreachableFinding(error)],
      survey: {},
    });
  }
  return assessAndStore(deps, { resourceId, plan, capture, trigger, survey });
}

/**
 * The report taken inside a backup's attempt, on the database that attempt dumps (the fork, for a
 * Heroku source). Throws when the database cannot be surveyed at all; the caller must not let that
 * fail the backup.
 */
export async function checkBeforeBackup(
  deps: PreflightDeps,
  run: { resourceId: string; backupId: string; connection: ConnectionParams; capture: CaptureMode },
): Promise<PreflightReport> {
  const resource = await findResource(deps.pool, run.resourceId);
  const plan = resource ? findPlan(resource.plan, deps.plans) : undefined;
  if (!plan) throw new Error('the resource or its plan is gone');
  const survey = await surveyDatabase(run.connection, surveyOptions(deps));
  return assessAndStore(deps, { ...run, plan, trigger: 'backup', survey });
}

async function assessAndStore(
  deps: PreflightDeps,
  run: {
    resourceId: string;
    backupId?: string;
    plan: Plan;
    capture: CaptureMode;
    trigger: PreflightTrigger;
    survey: DatabaseSurvey;
  },
): Promise<PreflightReport> {
  const [recent, binaries] = await Promise.all([
    listRecentCompletedBackups(deps.pool, run.resourceId, MEASURED_BACKUPS),
    listPgBinaries(deps.pgBinDir ? { binDir: deps.pgBinDir } : {}),
  ]);
  const previous = recent[0];
  const measured = measuredThroughput(recent);
  const findings = assessSurvey({
    survey: run.survey,
    plan: run.plan,
    ...(deps.plans ? { plans: deps.plans } : {}),
    capture: run.capture,
    pgDumpMajors: binaries.found.map((b) => b.major),
    ...(previous ? { previous } : {}),
    ...(measured ? { measured } : {}),
  });
  return insertReport(deps.pool, {
    resourceId: run.resourceId,
    backupId: run.backupId ?? null,
    trigger: run.trigger,
    databaseBytes: run.survey.server?.databaseBytes ?? null,
    findings,
    survey: { ...run.survey, capture: run.capture },
  });
}

function surveyOptions(deps: PreflightDeps) {
  return {
    ...(deps.hosts ? { hosts: deps.hosts } : {}),
    ...(deps.statementTimeoutMs ? { statementTimeoutMs: deps.statementTimeoutMs } : {}),
  };
}

/** The database's connection as a backup would reach it, without a fork. */
async function resolveConnection(
  deps: PreflightDeps,
  resourceId: string,
  setting: SourceSetting,
): Promise<ConnectionParams> {
  if (setting.kind === 'direct')
    return (await openDirectSource(deps.secrets, resourceId, setting).resolve()).connection;
  if (!deps.connect) throw new Unreachable('connecting a Heroku account is not configured on this server');
  const configVar = `${setting.attachmentName}_URL`;
  const vars = await withConnectApi(deps.connect, resourceId, (api) => api.configVars(setting.appName));
  const url = vars[configVar];
  if (!url) throw new Unreachable(`the app ${setting.appName} has no ${configVar} config var`);
  return (await herokuSource(url).resolve()).connection;
}

/** Why the database could not be checked, in words safe to show (no address, no driver text). */
function unreachableFinding(error: unknown): Finding {
  const reason =
    error instanceof Unreachable || error instanceof ConnectionUnavailableError
      ? error.message
      : isBackupFailure(error, 'invalid_source', 'source_not_allowed')
        ? error.message
        : connectProblem(error);
  return {
    code: 'source_unreachable',
    severity: 'critical',
    title: `big-backup could not reach the database: ${reason}`,
    advice:
      'A backup would fail the same way. Check that the database is up and its credentials are current; for a Heroku source, reconnect Heroku in the settings if it asks, or choose the database again there. Then check again.',
  };
}
