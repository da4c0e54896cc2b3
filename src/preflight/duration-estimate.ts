import type { Plan, PlanSlug } from '../resources/plans.ts';

const MiB = 1024 * 1024;

/**
 * The rate assumed before a database's first backup has measured its own: 64 MiB of database size per
 * second, plain `pg_dump -Fc` as measured in docs/performance.md (B3, 3.3 GB in 51.8 s on a 2-vCPU
 * machine). big-backup's gzip-2 ran faster there (`-Z1` 134, `-Z3` 113 MB/s), but a server across a
 * network and a busy or smaller fork are slower, so the conservative figure is the one stated.
 */
export const ASSUMED_BYTES_PER_SECOND = 64 * MiB;

/** The backups whose throughput counts: the most recent completed ones. */
export const MEASURED_BACKUPS = 5;

/**
 * Pieces of one backup the sharded capture (issue 14) dumps at once, per plan: Basic 2, Standard 4,
 * Premium 8. Merge note: once the plan catalogue carries this number, read it from the plan instead.
 */
export const SHARDED_PIECES_AT_ONCE: Readonly<Record<PlanSlug, number>> = { basic: 2, standard: 4, premium: 8 };

/**
 * What each piece beyond the first adds, as a share of one stream's rate: pieces share the fork's
 * cores, disk and the workers' CPU, so the speed-up is assumed to be half of linear (2 pieces 1.5×,
 * 4 pieces 2.5×, 8 pieces 4.5×) until the sharded capture's bench figures replace it.
 */
export const SHARDED_GAIN_PER_PIECE = 0.5;

/** No job runs longer than a day: pg-boss's expiry ceiling and Heroku's daily dyno restart (issue 14). */
export const DAY_HOURS = 24;

/** A completed backup as the estimate reads it. */
export interface PastBackup {
  name: string;
  /** `pg_database_size` when it ran. */
  sourceBytes: number;
  finishedAt: Date;
  /** The progress samples, `[seconds since the attempt began, archive bytes]`. */
  samples: Array<[number, number]>;
  /** The last progress rate recorded, in database bytes per second. */
  sourceBytesPerSecond: number | null;
}

/** A database's own dump rate, from its recent backups. */
export interface MeasuredThroughput {
  bytesPerSecond: number;
  backups: number;
}

/**
 * The median rate of the recent backups, each its database size over the time its dump took (first to
 * last progress sample), or its last recorded rate when too short to have two samples.
 */
export function measuredThroughput(backups: readonly PastBackup[]): MeasuredThroughput | undefined {
  const rates: number[] = [];
  for (const backup of backups.slice(0, MEASURED_BACKUPS)) {
    const first = backup.samples[0];
    const last = backup.samples.at(-1);
    const seconds = first && last ? last[0] - first[0] : 0;
    const rate = seconds >= 1 ? backup.sourceBytes / seconds : (backup.sourceBytesPerSecond ?? 0);
    if (rate > 0 && Number.isFinite(rate)) rates.push(rate);
  }
  if (rates.length === 0) return undefined;
  rates.sort((a, b) => a - b);
  const middle = Math.floor(rates.length / 2);
  const median = rates.length % 2 ? rates[middle]! : (rates[middle - 1]! + rates[middle]!) / 2;
  return { bytesPerSecond: median, backups: rates.length };
}

/** How long one backup of `databaseBytes` is expected to take, and on what basis. */
export interface DurationEstimate {
  seconds: number;
  bytesPerSecond: number;
  basis: 'measured' | 'assumed';
  /** How many backups the measured rate comes from. */
  backups: number;
  /** The plan's limit on one backup job. */
  limitHours: number;
  /** With the sharded capture's pieces at once for this plan. */
  sharded: { pieces: number; seconds: number };
}

export function estimateDuration(
  databaseBytes: number,
  plan: Plan,
  measured: MeasuredThroughput | undefined,
): DurationEstimate {
  const bytesPerSecond = measured?.bytesPerSecond ?? ASSUMED_BYTES_PER_SECOND;
  const seconds = databaseBytes / bytesPerSecond;
  const pieces = SHARDED_PIECES_AT_ONCE[plan.slug];
  const speedUp = 1 + (pieces - 1) * SHARDED_GAIN_PER_PIECE;
  return {
    seconds,
    bytesPerSecond,
    basis: measured ? 'measured' : 'assumed',
    backups: measured?.backups ?? 0,
    limitHours: Math.min(plan.maxBackupHours, DAY_HOURS),
    sharded: { pieces, seconds: seconds / speedUp },
  };
}

/** `45 s`, `12 min`, `3.5 h`. */
export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  const hours = seconds / 3600;
  return `${hours < 10 ? hours.toFixed(1) : Math.round(hours)} h`;
}
