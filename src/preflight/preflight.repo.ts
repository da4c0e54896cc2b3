import type { Queryable } from '../db/pool.ts';
import { backupName, type BackupTrigger } from '../backups/backup.ts';
import type { PastBackup } from './duration-estimate.ts';
import type { Finding, PreflightReport, PreflightTrigger } from './finding.ts';

/** Reports kept per resource; older ones are deleted as new ones are stored. */
export const REPORTS_KEPT = 50;

interface ReportRow {
  id: string;
  resource_id: string;
  backup_id: string | null;
  trigger: PreflightTrigger;
  checked_at: Date;
  database_bytes: string | null;
  findings: Finding[];
  survey: Record<string, unknown>;
}

const COLUMNS = 'id::text, resource_id, backup_id, trigger, checked_at, database_bytes::text, findings, survey';

function toReport(row: ReportRow): PreflightReport {
  return {
    id: row.id,
    resourceId: row.resource_id,
    backupId: row.backup_id,
    trigger: row.trigger,
    checkedAt: row.checked_at,
    databaseBytes: row.database_bytes === null ? null : Number(row.database_bytes),
    findings: row.findings,
    survey: row.survey,
  };
}

/** Stores a report and lets the oldest beyond REPORTS_KEPT go. */
export async function insertReport(
  db: Queryable,
  report: {
    resourceId: string;
    backupId?: string | null;
    trigger: PreflightTrigger;
    databaseBytes: number | null;
    findings: Finding[];
    survey: Record<string, unknown>;
  },
): Promise<PreflightReport> {
  const { rows } = await db.query<ReportRow>(
    `insert into preflight_reports (resource_id, backup_id, trigger, database_bytes, findings, survey)
     values ($1, $2, $3, $4, $5::jsonb, $6::jsonb) returning ${COLUMNS}`,
    [
      report.resourceId,
      report.backupId ?? null,
      report.trigger,
      report.databaseBytes,
      JSON.stringify(report.findings),
      JSON.stringify(report.survey),
    ],
  );
  await db.query(
    `delete from preflight_reports where resource_id = $1 and id not in
       (select id from preflight_reports where resource_id = $1 order by checked_at desc, id desc limit $2)`,
    [report.resourceId, REPORTS_KEPT],
  );
  return toReport(rows[0]!);
}

/** The newest report of the resource, whatever started it. */
export async function findLatestReport(db: Queryable, resourceId: string): Promise<PreflightReport | undefined> {
  const { rows } = await db.query<ReportRow>(
    `select ${COLUMNS} from preflight_reports where resource_id = $1 order by checked_at desc, id desc limit 1`,
    [resourceId],
  );
  return rows[0] ? toReport(rows[0]) : undefined;
}

/** The report taken inside a backup's attempt (the newest, when it ran more than once). */
export async function findBackupReport(db: Queryable, backupId: string): Promise<PreflightReport | undefined> {
  const { rows } = await db.query<ReportRow>(
    `select ${COLUMNS} from preflight_reports where backup_id = $1 order by checked_at desc, id desc limit 1`,
    [backupId],
  );
  return rows[0] ? toReport(rows[0]) : undefined;
}

/**
 * The resource's most recent completed backups, newest first, with what their throughput is computed
 * from: the database size, and the progress samples and last rate the attempt recorded.
 */
export async function listRecentCompletedBackups(
  db: Queryable,
  resourceId: string,
  limit: number,
): Promise<PastBackup[]> {
  const { rows } = await db.query<{
    trigger: BackupTrigger;
    number: number;
    source_bytes: string;
    finished_at: Date;
    samples: unknown;
    rate: string | null;
  }>(
    `select trigger, number, source_bytes::text, coalesce(verified_at, finished_at) as finished_at,
            progress -> 'samples' as samples, progress ->> 'sourceBytesPerSecond' as rate
     from backups
     where resource_id = $1 and state = 'completed' and source_bytes is not null
     order by coalesce(verified_at, finished_at) desc nulls last limit $2`,
    [resourceId, limit],
  );
  return rows.map((r) => ({
    name: backupName(r.trigger, r.number),
    sourceBytes: Number(r.source_bytes),
    finishedAt: r.finished_at,
    samples: Array.isArray(r.samples)
      ? r.samples.filter((s): s is [number, number] => Array.isArray(s) && s.length === 2)
      : [],
    sourceBytesPerSecond: r.rate === null ? null : Number(r.rate),
  }));
}

/** Part of the resource purge: the reports name the customer's tables and roles. */
export async function deleteResourceReports(db: Queryable, resourceId: string): Promise<void> {
  await db.query('delete from preflight_reports where resource_id = $1', [resourceId]);
}
