/** How often scheduled backups may run. */
export type ScheduleFrequency = 'daily' | 'hourly';

/**
 * How often a restore drill follows a fork-based backup (issue 15): never, after every backup, or after
 * the first backup of each week or month (counted from the last drill).
 */
export type DrillPolicy = 'off' | 'every' | 'weekly' | 'monthly';

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
  /** The largest source database a backup on this plan may dump (`pg_database_size`, checked before pg_dump starts). */
  readonly maxDatabaseBytes: number;
  /**
   * The largest archive a backup on this plan may store: 1.2 × `maxDatabaseBytes`, the most a database
   * within the limit can dump to (random bytea, which COPY writes as hex: performance.md B3 note 4).
   * An archive growing past it means the database outgrew the plan while it was dumped; it is stopped.
   */
  readonly maxArchiveBytes: number;
  /** Concurrent pg_dump streams a backup may use. */
  readonly parallelStreams: number;
  /** A backup job expires after this long (pg-boss caps expiry below 24 hours). */
  readonly maxBackupHours: number;
  /** Restore drill settings a resource on this plan may choose (issue 15); absent: only 'off'. */
  readonly drillPolicies?: readonly DrillPolicy[];
  /** Pieces of one sharded backup that run at once, across every worker (issue 14). */
  readonly shardConcurrency: number;
  /**
   * How long a sharded backup may take from its first attempt's start: no single job runs long, so this
   * may exceed the 24 hours of any one job. Past it the backup fails as timed out.
   */
  readonly shardedBackupHours: number;
}

const GB = 1_000_000_000;

/** The archive cap of a plan whose database limit is `maxDatabaseBytes` (see Plan.maxArchiveBytes). */
const archiveCap = (maxDatabaseBytes: number) => Math.ceil(1.2 * maxDatabaseBytes);

export const PLAN_SLUGS = ['basic', 'standard', 'premium'] as const;
export type PlanSlug = (typeof PLAN_SLUGS)[number];

/** Every plan by slug. */
export type PlanCatalogue = Readonly<Record<PlanSlug, Plan>>;

/** The one plan catalogue: every limit the product enforces reads from here. */
export const PLANS: PlanCatalogue = {
  basic: {
    slug: 'basic',
    title: 'Basic',
    scheduleFrequencies: ['daily'],
    retention: { manual: 10, hourly: 0, daily: 7, weekly: 4, monthly: 0 },
    maxDatabaseBytes: 250 * GB,
    maxArchiveBytes: archiveCap(250 * GB),
    parallelStreams: 1,
    maxBackupHours: 12,
    drillPolicies: ['off', 'monthly'],
    shardConcurrency: 2,
    shardedBackupHours: 24,
  },
  standard: {
    slug: 'standard',
    title: 'Standard',
    scheduleFrequencies: ['daily', 'hourly'],
    retention: { manual: 25, hourly: 24, daily: 14, weekly: 8, monthly: 6 },
    maxDatabaseBytes: 1_000 * GB,
    maxArchiveBytes: archiveCap(1_000 * GB),
    parallelStreams: 2,
    maxBackupHours: 20,
    drillPolicies: ['off', 'weekly', 'monthly'],
    shardConcurrency: 4,
    shardedBackupHours: 48,
  },
  premium: {
    slug: 'premium',
    title: 'Premium',
    scheduleFrequencies: ['daily', 'hourly'],
    retention: { manual: 50, hourly: 48, daily: 31, weekly: 12, monthly: 12 },
    maxDatabaseBytes: 4_000 * GB,
    maxArchiveBytes: archiveCap(4_000 * GB),
    parallelStreams: 4,
    maxBackupHours: 23,
    drillPolicies: ['off', 'every', 'weekly', 'monthly'],
    shardConcurrency: 8,
    shardedBackupHours: 72,
  },
};

/** Finds a plan by Heroku's slug; Heroku sends the slug without the service prefix, but accept it too. */
export function findPlan(slug: string, catalogue: PlanCatalogue = PLANS): Plan | undefined {
  const bare = slug.startsWith('big-backup:') ? slug.slice('big-backup:'.length) : slug;
  return (PLAN_SLUGS as readonly string[]).includes(bare) ? catalogue[bare as PlanSlug] : undefined;
}

/**
 * The plan to move to from `plan` for a database of `databaseBytes`: the smallest with a larger database
 * limit that covers it, or undefined when none does.
 */
export function upgradeFor(plan: Plan, databaseBytes: number, catalogue: PlanCatalogue = PLANS): Plan | undefined {
  return Object.values(catalogue)
    .filter((other) => other.maxDatabaseBytes > plan.maxDatabaseBytes && other.maxDatabaseBytes >= databaseBytes)
    .sort((a, b) => a.maxDatabaseBytes - b.maxDatabaseBytes)[0];
}

/** A database or archive size for messages, in decimal units as Heroku shows database sizes: `612 GB`, `3 MB`. */
export function formatDatabaseBytes(bytes: number, round: (n: number) => number = Math.round): string {
  const [unit, size] = bytes >= GB ? ['GB', GB] : bytes >= 1_000_000 ? ['MB', 1_000_000] : ['kB', 1000];
  return `${round(bytes / size).toLocaleString('en-US')} ${unit}`;
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
