/** How often scheduled backups may run. */
export type ScheduleFrequency = 'daily' | 'hourly';

/** What one plan allows. Retention counts are per resource. */
export interface Plan {
  readonly slug: PlanSlug;
  readonly title: string;
  /** Frequencies a schedule may use on this plan. */
  readonly scheduleFrequencies: readonly ScheduleFrequency[];
  /** Manual backups kept, and scheduled ones by grandfather-father-son tier. */
  readonly retention: {
    readonly manual: number;
    readonly hourly: number;
    readonly daily: number;
    readonly weekly: number;
    readonly monthly: number;
  };
  /** The largest source database a backup on this plan may dump. */
  readonly maxDatabaseBytes: number;
  /** Concurrent pg_dump streams a backup may use. */
  readonly parallelStreams: number;
  /** A backup job expires after this long (pg-boss caps expiry below 24 hours). */
  readonly maxBackupHours: number;
}

const GB = 1_000_000_000;

export const PLAN_SLUGS = ['basic', 'standard', 'premium'] as const;
export type PlanSlug = (typeof PLAN_SLUGS)[number];

/** The one plan catalogue: every limit the product enforces reads from here. */
export const PLANS: Readonly<Record<PlanSlug, Plan>> = {
  basic: {
    slug: 'basic',
    title: 'Basic',
    scheduleFrequencies: ['daily'],
    retention: { manual: 10, hourly: 0, daily: 7, weekly: 4, monthly: 0 },
    maxDatabaseBytes: 250 * GB,
    parallelStreams: 1,
    maxBackupHours: 12,
  },
  standard: {
    slug: 'standard',
    title: 'Standard',
    scheduleFrequencies: ['daily', 'hourly'],
    retention: { manual: 25, hourly: 24, daily: 14, weekly: 8, monthly: 6 },
    maxDatabaseBytes: 1_000 * GB,
    parallelStreams: 2,
    maxBackupHours: 20,
  },
  premium: {
    slug: 'premium',
    title: 'Premium',
    scheduleFrequencies: ['daily', 'hourly'],
    retention: { manual: 50, hourly: 48, daily: 31, weekly: 12, monthly: 12 },
    maxDatabaseBytes: 4_000 * GB,
    parallelStreams: 4,
    maxBackupHours: 23,
  },
};

/** Finds a plan by Heroku's slug; Heroku sends the slug without the service prefix, but accept it too. */
export function findPlan(slug: string): Plan | undefined {
  const bare = slug.startsWith('big-backup:') ? slug.slice('big-backup:'.length) : slug;
  return (PLAN_SLUGS as readonly string[]).includes(bare) ? PLANS[bare as PlanSlug] : undefined;
}

/** What a resource currently uses that a plan must still allow. */
export interface PlanUsage {
  largestDatabaseBytes: number | null;
  scheduleFrequency: ScheduleFrequency | null;
}

/** Reasons, in words a customer can act on, why a resource cannot move to `plan`; empty when it can. */
export function planChangeBlockers(usage: PlanUsage, plan: Plan): string[] {
  const blockers: string[] = [];
  if (usage.largestDatabaseBytes !== null && usage.largestDatabaseBytes > plan.maxDatabaseBytes) {
    blockers.push(
      `your database was ${formatGb(usage.largestDatabaseBytes)} at its last backup, and the ${plan.title} plan backs up databases up to ${formatGb(plan.maxDatabaseBytes)}`,
    );
  }
  if (usage.scheduleFrequency !== null && !plan.scheduleFrequencies.includes(usage.scheduleFrequency)) {
    blockers.push(
      `your backups are scheduled ${usage.scheduleFrequency}, which the ${plan.title} plan does not offer; change the schedule to ${plan.scheduleFrequencies.join(' or ')} first`,
    );
  }
  return blockers;
}

function formatGb(bytes: number): string {
  return `${Math.round(bytes / GB).toLocaleString('en-US')} GB`;
}
