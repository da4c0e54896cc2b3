import type { DatabaseSurvey, SurveyedTable } from '../engine/index.ts';
import { formatDatabaseBytes, upgradeFor, type Plan, type PlanCatalogue } from '../resources/plans.ts';
import { estimateDuration, formatDuration, type MeasuredThroughput } from './duration-estimate.ts';
import type { Finding } from './finding.ts';

/**
 * 50 schemas: Heroku names "a large number of tables, schemas or large objects" as what makes a
 * logical backup time out (help.heroku.com/EW2G2AF7, quoted in docs/performance.md A3 and
 * docs/landscape.md §1), and issue 16 puts the line at 50+ schemas.
 */
export const MANY_SCHEMAS = 50;
/** 10 000 tables: docs/performance.md C7 (a lock and a TOC entry each; `max_locks_per_transaction`). */
export const MANY_TABLES = 10_000;
/**
 * 100 large objects: our own line, as no source gives a number. Before PostgreSQL 17 each large object
 * is its own archive entry and all their data one entry that neither dump nor restore can parallelise;
 * every one costs pg_dump memory and a restore `lo_create`, `ALTER … OWNER` and `GRANT` (docs/performance.md A3).
 */
export const MANY_LARGE_OBJECTS = 100;
/** Past this share of the plan's database limit, say so before the limit refuses a backup. */
export const NEAR_PLAN_LIMIT = 0.8;
/** Past this share of the time a backup may take, the estimate is a warning. */
export const NEAR_TIME_LIMIT = 0.75;
/** Largest tables listed in the report. */
const LARGEST_LISTED = 5;
const LISTED_NAMES = 10;

/** How the backup reads the database: a fork (Heroku source), or the database itself (a URL given directly). */
export type CaptureMode = 'fork' | 'direct';

/** Everything a report is computed from. */
export interface AssessmentInput {
  survey: DatabaseSurvey;
  plan: Plan;
  plans?: PlanCatalogue;
  capture: CaptureMode;
  /** Majors of the pg_dump binaries installed on this worker. */
  pgDumpMajors: readonly number[];
  /** The newest completed backup, for the growth since. */
  previous?: { name: string; sourceBytes: number; finishedAt: Date };
  measured?: MeasuredThroughput;
}

const size = (bytes: number) => formatDatabaseBytes(bytes, (n) => Math.round(n * 10) / 10);
const qualified = (t: SurveyedTable) => `${t.schema}.${t.name}`;
const plural = (n: number, one: string, many = `${one}s`) => `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, LISTED_NAMES).join(', ');
  return names.length > LISTED_NAMES ? `${shown} and ${names.length - LISTED_NAMES} more` : shown;
}

/** The findings of a survey, in the order the report shows them before sorting by severity. */
export function assessSurvey(input: AssessmentInput): Finding[] {
  const { survey } = input;
  return [
    ...sizeFindings(input),
    ...countFindings(survey),
    ...largestTables(survey),
    ...unloggedTables(survey, input.capture),
    ...herokuExt(survey),
    ...rolesAndGrants(survey),
    ...serverVersion(survey, input.pgDumpMajors),
    ...expectedDuration(input),
    ...incomplete(survey),
  ];
}

function sizeFindings({ survey, plan, plans, previous }: AssessmentInput): Finding[] {
  const server = survey.server;
  if (!server) return [];
  const bytes = server.databaseBytes;
  const parts = [
    survey.tables ? `tables ${size(survey.tables.totalBytes)}` : '',
    survey.counts?.largeObjectBytes ? `large objects ${size(survey.counts.largeObjectBytes)}` : '',
  ].filter(Boolean);
  const findings: Finding[] = [
    {
      code: 'database_size',
      severity: 'info',
      title: `The database is ${size(bytes)}${parts.length ? ` (${parts.join(', ')}; the rest is indexes, which the dump rebuilds rather than copies)` : ''}`,
      advice: `The ${plan.title} plan backs up databases up to ${size(plan.maxDatabaseBytes)}.`,
    },
  ];
  if (previous) {
    const growth = bytes - previous.sourceBytes;
    const share = previous.sourceBytes > 0 ? (growth / previous.sourceBytes) * 100 : 0;
    const date = previous.finishedAt.toISOString().slice(0, 10);
    findings.push({
      code: 'database_growth',
      severity: 'info',
      title:
        growth >= 0
          ? `Grew by ${size(growth)} (${share.toFixed(1)} %) since backup ${previous.name} on ${date}`
          : `Shrank by ${size(-growth)} (${(-share).toFixed(1)} %) since backup ${previous.name} on ${date}`,
      advice: 'Nothing to do; the expected duration below accounts for the current size.',
    });
  }
  const upgrade = upgradeFor(plan, bytes, plans);
  if (bytes > plan.maxDatabaseBytes) {
    findings.push({
      code: 'plan_size_limit',
      severity: 'critical',
      title: `The database (${size(bytes)}) is larger than the ${plan.title} plan's limit of ${size(plan.maxDatabaseBytes)}`,
      advice: upgrade
        ? `Backups will be refused before pg_dump starts. Upgrade to ${upgrade.title} (up to ${size(upgrade.maxDatabaseBytes)}): heroku addons:upgrade big-backup:${upgrade.slug}.`
        : 'Backups will be refused before pg_dump starts, and no plan covers a database this large: contact support.',
    });
  } else if (bytes >= NEAR_PLAN_LIMIT * plan.maxDatabaseBytes) {
    findings.push({
      code: 'plan_size_limit',
      severity: 'warning',
      title: `The database (${size(bytes)}) is at ${Math.round((bytes / plan.maxDatabaseBytes) * 100)} % of the ${plan.title} plan's limit of ${size(plan.maxDatabaseBytes)}`,
      advice: upgrade
        ? `Past the limit, backups are refused. Upgrade to ${upgrade.title} before it grows further: heroku addons:upgrade big-backup:${upgrade.slug}.`
        : 'Past the limit, backups are refused; contact support before the database grows further.',
    });
  }
  return findings;
}

function countFindings(survey: DatabaseSurvey): Finding[] {
  const counts = survey.counts;
  if (!counts) return [];
  const findings: Finding[] = [
    {
      code: 'object_counts',
      severity: 'info',
      title: `${plural(counts.tables, 'table')} in ${plural(counts.schemas, 'schema')}; ${plural(counts.largeObjects, 'large object')} (${size(counts.largeObjectBytes)})`,
      advice: 'Nothing to do below the thresholds the warnings name.',
    },
  ];
  if (counts.schemas >= MANY_SCHEMAS)
    findings.push({
      code: 'many_schemas',
      severity: 'warning',
      title: `${plural(counts.schemas, 'schema')}: ${MANY_SCHEMAS} or more is where Heroku warns pg_dump slows down and backups time out`,
      advice:
        "pg_dump locks every table and reads each schema's catalog, so a dump and especially a restore take longer per object than per byte. big-backup dumps a fork, so the locks never touch production; run the first backup early and compare its duration with the estimate here. If you use a schema per tenant, consider dropping the schemas of tenants that left. A restore of a database with many objects is faster with pg_restore 17's --transaction-size.",
    });
  if (counts.tables >= MANY_TABLES)
    findings.push({
      code: 'many_tables',
      severity: 'warning',
      title: `${plural(counts.tables, 'table')}: pg_dump takes a lock per table and may run out of lock memory`,
      advice:
        'A dump that fails with "out of shared memory" needs max_locks_per_transaction × max_connections above the number of tables; on Heroku that means a larger database plan for the fork (settings: fork plan). Dropping unused tables shortens every backup.',
    });
  if (counts.largeObjects >= MANY_LARGE_OBJECTS)
    findings.push({
      code: 'large_objects',
      severity: 'warning',
      title: `${plural(counts.largeObjects, 'large object')} (${size(counts.largeObjectBytes)}): dumped and restored one by one`,
      advice:
        'Before PostgreSQL 17 every large object is its own archive entry and their data one entry that neither the dump nor a restore can split, and a restore creates, owns and grants each one separately. Expect the large objects to take longer than their size suggests; the sharded capture may fall back to one stream for them. Where you can, store such data as bytea columns or in object storage instead.',
    });
  return findings;
}

function largestTables(survey: DatabaseSurvey): Finding[] {
  const largest = survey.tables?.largest.slice(0, LARGEST_LISTED) ?? [];
  if (largest.length === 0) return [];
  return [
    {
      code: 'largest_tables',
      severity: 'info',
      title: `Largest tables: ${largest.map((t) => `${qualified(t)} ${size(t.bytes)}`).join(', ')}`,
      advice:
        'A single stream dumps one table at a time; the sharded capture splits tables above its split size into ranges dumped in parallel. Rarely read history in the largest tables can be archived to shorten every backup.',
    },
  ];
}

function unloggedTables(survey: DatabaseSurvey, capture: CaptureMode): Finding[] {
  const unlogged = survey.unlogged ?? [];
  if (unlogged.length === 0) return [];
  const names = listNames(unlogged.map(qualified));
  if (capture === 'fork')
    return [
      {
        code: 'unlogged_tables',
        severity: 'warning',
        title: `${plural(unlogged.length, 'unlogged table')} (${names}): their rows are not in a fork, so not in the backup`,
        advice:
          'Unlogged tables skip the write-ahead log, from which a fork is built, so a fork has them empty: the backup restores their definitions without rows. If their data matters, make them logged (ALTER TABLE … SET LOGGED); if they are caches, nothing to do.',
      },
    ];
  return [
    {
      code: 'unlogged_tables',
      severity: 'info',
      title: `${plural(unlogged.length, 'unlogged table')} (${names}): in this direct backup, but empty in any fork or follower`,
      advice:
        'Dumped directly, their rows are included. A backup from a fork or follower would have them empty; make them logged (ALTER TABLE … SET LOGGED) if you ever switch to one and need their data.',
    },
  ];
}

function herokuExt(survey: DatabaseSurvey): Finding[] {
  const extensions = survey.herokuExt ?? [];
  if (extensions.length === 0) return [];
  const names = extensions.map((e) => e.name);
  return [
    {
      code: 'heroku_ext_extensions',
      severity: 'warning',
      title: `${plural(extensions.length, 'extension')} in schema heroku_ext (${listNames(names)}): excluded from the dump`,
      advice: `The dump leaves out schema heroku_ext, as Heroku's own backups do, so the database you restore into must have these extensions first, or objects that use them fail to restore. On the target run: ${names.map((n) => `CREATE EXTENSION IF NOT EXISTS "${n}" SCHEMA heroku_ext;`).join(' ')} (on Heroku Postgres heroku_ext exists; elsewhere CREATE SCHEMA heroku_ext first).`,
    },
  ];
}

function rolesAndGrants(survey: DatabaseSurvey): Finding[] {
  if (!survey.roles) return [];
  const roles = survey.roles;
  const advice =
    "Backups are taken with --no-owner --no-acl, as Heroku's are, so a restore belongs to the role that restores it. After a restore, recreate these roles (on Heroku: heroku pg:credentials:create) and run your GRANT statements again; keep them in your migrations so they can be replayed.";
  if (roles.length === 0)
    return [
      {
        code: 'roles_and_grants',
        severity: 'info',
        title: 'No other role holds privileges here; roles and grants are not in the dump by design',
        advice,
      },
    ];
  const described = roles.map(
    (r) =>
      `${r.name} (${[r.grants ? plural(r.grants, 'grant') : '', r.owns ? `owns ${r.owns}` : ''].filter(Boolean).join(', ')})`,
  );
  return [
    {
      code: 'roles_and_grants',
      severity: 'info',
      title: `${plural(roles.length, 'other role')} with privileges or objects, not in the dump by design: ${listNames(described)}`,
      advice,
    },
  ];
}

function serverVersion(survey: DatabaseSurvey, pgDumpMajors: readonly number[]): Finding[] {
  const server = survey.server;
  if (!server) return [];
  const fitting = pgDumpMajors.filter((m) => m >= server.major).sort((a, b) => a - b)[0];
  if (fitting !== undefined)
    return [
      {
        code: 'server_version',
        severity: 'info',
        title: `PostgreSQL ${server.version}; pg_dump ${fitting} is installed to dump it`,
        advice: `Restore with pg_restore ${fitting} or newer.`,
      },
    ];
  const newest = [...pgDumpMajors].sort((a, b) => b - a)[0];
  return [
    {
      code: 'pg_dump_missing',
      severity: 'critical',
      title: `PostgreSQL ${server.version}: no pg_dump ${server.major} or newer is installed${newest !== undefined ? ` (newest: ${newest})` : ''}`,
      advice:
        'Backups will be refused before they start, since an older pg_dump cannot dump a newer server. This is ours to fix, not yours: contact support, who will install the matching client.',
    },
  ];
}

function expectedDuration(input: AssessmentInput): Finding[] {
  const server = input.survey.server;
  if (!server) return [];
  const estimate = estimateDuration(server.databaseBytes, input.plan, input.measured);
  const rate = `${size(estimate.bytesPerSecond)}/s`;
  const basis =
    estimate.basis === 'measured'
      ? `at this database's own rate of ${rate} (median of its last ${plural(estimate.backups, 'backup')})`
      : `at an assumed ${rate} (plain pg_dump -Fc as measured in big-backup's benchmarks; the first backup measures this database's own rate)`;
  const limitSeconds = estimate.limitHours * 3600;
  const title = `Expected backup duration: ${formatDuration(estimate.seconds)} ${basis}; the ${input.plan.title} plan allows ${estimate.limitHours} h`;
  const sharded = `the sharded capture (${estimate.sharded.pieces} pieces at once on ${input.plan.title}) is expected to take about ${formatDuration(estimate.sharded.seconds)}`;
  if (estimate.seconds <= NEAR_TIME_LIMIT * limitSeconds)
    return [
      {
        code: 'expected_duration',
        severity: 'info',
        title,
        advice: `Nothing to do: one stream fits well within ${estimate.limitHours} h. The report before each backup updates this estimate as the database grows.`,
      },
    ];
  const fits = estimate.sharded.seconds <= limitSeconds;
  const upgrade = upgradeFor(input.plan, server.databaseBytes, input.plans);
  if (estimate.seconds <= limitSeconds)
    return [
      {
        code: 'expected_duration',
        severity: 'warning',
        title,
        advice:
          input.capture === 'fork'
            ? `A single stream is close to the limit and to the 24-hour mark past which no job runs; ${sharded}, well within it: use it for this database.`
            : `A single stream is close to the limit. The sharded capture needs a source that cannot change while it runs (a fork): connect Heroku so backups are taken from a fork, where ${sharded}.`,
      },
    ];
  return [
    {
      code: 'expected_duration',
      severity: 'critical',
      title,
      advice:
        input.capture === 'fork'
          ? fits
            ? `One stream would be stopped at the limit (no job outlives ${estimate.limitHours} h, nor a day); ${sharded}, within it: backups of this database must use the sharded capture.`
            : `Even ${sharded}, beyond the limit. ${upgrade ? `Move to ${upgrade.title} (more pieces at once, a longer limit): heroku addons:upgrade big-backup:${upgrade.slug}; and ` : ''}archive or drop data you do not need to back up.`
          : `One stream would be stopped at the limit, and the sharded capture needs a fork: connect Heroku so backups are taken from a fork, where ${sharded}.`,
    },
  ];
}

function incomplete(survey: DatabaseSurvey): Finding[] {
  if (survey.unavailable.length === 0) return [];
  return [
    {
      code: 'survey_incomplete',
      severity: 'warning',
      title: `Part of the catalog could not be read: ${survey.unavailable.map((u) => `${u.section} (${u.problem})`).join('; ')}`,
      advice:
        "The findings above leave those parts out; backups are not affected by this. If the credential lacks the rights, check again with the database's default credential.",
    },
  ];
}
