/** How much a finding matters: `critical` means a backup will fail or miss data unless something changes. */
export type Severity = 'info' | 'warning' | 'critical';

export const SEVERITIES: readonly Severity[] = ['critical', 'warning', 'info'];

/** One line of a pre-flight report: what was found (`title`) and what to do about it (`advice`). */
export interface Finding {
  /** Stable, for scripts: e.g. `many_schemas`, `unlogged_tables`. */
  code: string;
  severity: Severity;
  title: string;
  advice: string;
}

/** What started a report. */
export type PreflightTrigger = 'source_set' | 'connected' | 'backup' | 'on_demand';

/** A stored report. */
export interface PreflightReport {
  id: string;
  resourceId: string;
  backupId: string | null;
  trigger: PreflightTrigger;
  checkedAt: Date;
  databaseBytes: number | null;
  findings: Finding[];
  survey: Record<string, unknown>;
}

/** Findings most severe first, in their original order within a severity. */
export function bySeverity(findings: readonly Finding[]): Finding[] {
  return [...findings].sort((a, b) => SEVERITIES.indexOf(a.severity) - SEVERITIES.indexOf(b.severity));
}

/** How many findings of each severity. */
export function countBySeverity(findings: readonly Finding[]): Record<Severity, number> {
  const counts: Record<Severity, number> = { critical: 0, warning: 0, info: 0 };
  for (const finding of findings) counts[finding.severity]++;
  return counts;
}

/** The most severe finding's severity; `info` when there is none. */
export function worstSeverity(findings: readonly Finding[]): Severity {
  return bySeverity(findings)[0]?.severity ?? 'info';
}

/** "1 critical, 2 warnings" or "no warnings". */
export function countsLine(findings: readonly Finding[]): string {
  const counts = countBySeverity(findings);
  const parts = [
    counts.critical ? `${counts.critical} critical` : '',
    counts.warning ? `${counts.warning} warning${counts.warning === 1 ? '' : 's'}` : '',
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'no warnings';
}

/** For the backup log: "2 warnings: 55 schemas …; 200 large objects …" or "no warnings". */
export function summaryLine(findings: readonly Finding[]): string {
  const serious = bySeverity(findings).filter((f) => f.severity !== 'info');
  if (serious.length === 0) return 'no warnings';
  return `${countsLine(findings)}: ${serious.map((f) => f.title).join('; ')}`;
}
