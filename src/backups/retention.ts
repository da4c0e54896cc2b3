/**
 * Which of a resource's backups to keep and which to delete, with the reason for each: the pruning
 * job logs the reasons to the audit trail, and the dashboard shows the same result as a preview.
 * Pure: the caller reads the rows and the clock, and deletes (object first, then row).
 *
 * The rules:
 *  1. Only completed (verified) backups count towards any "keep N".
 *  2. The newest completed backup, manual or scheduled, is never deleted, however old.
 *  3. Manual: the newest `retention.manual` completed manual backups are kept.
 *  4. Scheduled, grandfather-father-son in the resource's time zone: for each tier (hourly, daily,
 *     weekly = ISO week, monthly), completed scheduled backups are grouped by local period, the
 *     newest of each period represents it, and the newest N periods that have one are kept.
 *  5. A backup is kept if any rule keeps it; a completed backup no rule keeps is deleted.
 *  6. Failed and canceled backups count for nothing; they stay visible for
 *     FAILED_BACKUP_VISIBLE_MS after they ended, then are deleted.
 *  7. Pending, running and verifying backups are never touched.
 *  8. A completed backup awaiting re-verification (its manifest sidecar was lost, so the archive
 *     can no longer be proven) is always kept, but counts for nothing: it is not the newest
 *     verified backup and takes no place in any "keep N", so the older provable ones stay.
 * 10. The newest completed backup whose restore drill passed is never deleted while a newer one has
 *     not passed a drill (issue 15): the newest restore that was proven, not only the newest archive.
 *  9. A corrupt backup (a re-check found its stored archive changed or gone) counts for nothing,
 *     like a failure: the verified one before it becomes the newest, and it stays listed for
 *     FAILED_BACKUP_VISIBLE_MS after it was found corrupt, then is deleted.
 * Backups are dated by when they started (pg_dump's snapshot), ties broken by id, so the result
 * does not depend on input order; running it again on the survivors with the same `now` deletes
 * nothing more, since every kept representative is still the newest of its period.
 */
import type { Plan } from '../resources/plans.ts';
import { isActive, type Backup } from './backup.ts';
import { localTime, periodKey, type Period } from './zoned-time.ts';

export { isStale } from './staleness.ts';

/** How long a failed or canceled backup stays listed after it ended. */
export const FAILED_BACKUP_VISIBLE_MS = 7 * 86_400_000;

/** The fields retention reads; pass Backup rows straight in. */
export type RetentionBackup = Pick<
  Backup,
  | 'id'
  | 'trigger'
  | 'state'
  | 'createdAt'
  | 'startedAt'
  | 'finishedAt'
  | 'forkIntentAt'
  | 'reverificationRequestedAt'
  | 'corruptAt'
> & {
  /** The attempt's database fork, if it made one: while it stands, the row is its only record. */
  fork?: { destroyedAt: Date | null } | null;
};

/** What retention decides from. */
export interface RetentionInput {
  backups: readonly RetentionBackup[];
  retention: Plan['retention'];
  /** The resource's IANA zone, which the daily/weekly/monthly periods are counted in. */
  timeZone: string;
  now: Date;
  /** Backups whose restore drill passed (rule 10); none when absent. */
  drillPassed?: ReadonlySet<string>;
}

/** Why a backup is kept. */
export type KeepRule =
  | 'newest'
  | 'manual'
  | 'hourly'
  | 'daily'
  | 'weekly'
  | 'monthly'
  | 'unfinished'
  | 'recent-failure'
  | 'recent-corruption'
  | 'fork-standing'
  | 'awaiting-reverification'
  | 'drill-passed';

/** One reason a backup is kept, in words for the dashboard. */
export interface KeepReason {
  rule: KeepRule;
  text: string;
  /** Tiers only: the local period this backup is the newest of (`2026-03-08`, `2026-W10`, …). */
  period?: string;
  /** Failures only: when it will be deleted. */
  until?: Date;
}

/** Why a backup is deleted. */
export type DeleteRule = 'manual-over-count' | 'scheduled-outside-tiers' | 'failure-expired' | 'corruption-expired';

/** A kept backup with every rule that keeps it. */
export interface KeptBackup {
  id: string;
  reasons: KeepReason[];
}

/** A backup to delete, with the reason for the audit log. */
export interface DeletedBackup {
  id: string;
  rule: DeleteRule;
  reason: string;
}

/** Every input backup appears in exactly one list, each newest first. */
export interface RetentionDecision {
  keep: KeptBackup[];
  delete: DeletedBackup[];
}

const TIERS: readonly { rule: 'hourly' | 'daily' | 'weekly' | 'monthly'; period: Period; plural: string }[] = [
  { rule: 'hourly', period: 'hour', plural: 'hours' },
  { rule: 'daily', period: 'day', plural: 'days' },
  { rule: 'weekly', period: 'week', plural: 'weeks' },
  { rule: 'monthly', period: 'month', plural: 'months' },
];

/** Applies the retention rules above to one resource's backups. */
export function decideRetention({ backups, retention, timeZone, now, drillPassed }: RetentionInput): RetentionDecision {
  const sorted = [...backups].sort(newestFirst);
  // Only backups that can still be proven count; one awaiting re-verification is kept below, on its own.
  const completed = sorted.filter((b) => b.state === 'completed' && !b.reverificationRequestedAt);
  const reasons = new Map<string, KeepReason[]>();
  const keep = (id: string, reason: KeepReason) => reasons.set(id, [...(reasons.get(id) ?? []), reason]);

  const [newest] = completed;
  if (newest) keep(newest.id, { rule: 'newest', text: 'the newest verified backup, which is never deleted' });
  const drilled = completed.find((b) => drillPassed?.has(b.id));
  if (drilled && drilled !== newest) {
    keep(drilled.id, {
      rule: 'drill-passed',
      text: 'the newest backup whose restore drill passed; kept until a newer one passes a drill',
    });
  }

  completed
    .filter((b) => b.trigger === 'manual')
    .slice(0, Math.max(0, retention.manual))
    .forEach((b, i) => {
      keep(b.id, { rule: 'manual', text: `manual backup ${i + 1} of the ${retention.manual} newest kept` });
    });

  const scheduled = completed
    .filter((b) => b.trigger === 'scheduled')
    .map((b) => ({ b, local: localTime(dated(b), timeZone) }));
  for (const tier of TIERS) {
    const limit = retention[tier.rule];
    const seen = new Set<string>();
    // Newest first, so the first backup met in a period is its newest, and periods are met newest first.
    for (const { b, local } of scheduled) {
      if (limit <= 0) break;
      const period = periodKey(local, tier.period);
      if (seen.has(period)) continue;
      seen.add(period);
      if (seen.size > limit) break;
      keep(b.id, {
        rule: tier.rule,
        period,
        text: `newest of ${tier.period} ${period} (${seen.size} of the last ${limit} ${tier.plural} kept)`,
      });
    }
  }

  const decision: RetentionDecision = { keep: [], delete: [] };
  for (const b of sorted) {
    if (isActive(b.state)) {
      decision.keep.push({
        id: b.id,
        reasons: [{ rule: 'unfinished', text: `still ${b.state}; retention never touches an unfinished backup` }],
      });
    } else if (b.state === 'completed' && b.reverificationRequestedAt) {
      decision.keep.push({
        id: b.id,
        reasons: [
          {
            rule: 'awaiting-reverification',
            text: 'awaiting re-verification; never deleted, and not counted until it is proven again',
          },
        ],
      });
    } else if (((b.fork && b.fork.destroyedAt === null) || b.forkIntentAt) && !reasons.has(b.id)) {
      // The fork janitor finds forks to destroy through this row; deleting it would leave a billed database nobody knows of.
      decision.keep.push({
        id: b.id,
        reasons: [
          { rule: 'fork-standing', text: 'its database fork is not destroyed yet, and this row is its only record' },
        ],
      });
    } else if (b.state === 'corrupt') {
      const found = b.corruptAt ?? b.finishedAt ?? b.createdAt;
      const until = new Date(found.getTime() + FAILED_BACKUP_VISIBLE_MS);
      if (now.getTime() >= until.getTime()) {
        decision.delete.push({
          id: b.id,
          rule: 'corruption-expired',
          reason: `found corrupt ${found.toISOString()}; corrupt backups stay listed for ${FAILED_BACKUP_VISIBLE_MS / 86_400_000} days`,
        });
      } else {
        decision.keep.push({
          id: b.id,
          reasons: [
            {
              rule: 'recent-corruption',
              until,
              text: `its stored archive failed a re-check; listed until ${until.toISOString()}, never counted`,
            },
          ],
        });
      }
    } else if (b.state === 'failed' || b.state === 'canceled') {
      const ended = b.finishedAt ?? b.startedAt ?? b.createdAt;
      const until = new Date(ended.getTime() + FAILED_BACKUP_VISIBLE_MS);
      if (now.getTime() >= until.getTime()) {
        decision.delete.push({
          id: b.id,
          rule: 'failure-expired',
          reason: `${b.state} ${ended.toISOString()}; failed and canceled backups stay listed for ${FAILED_BACKUP_VISIBLE_MS / 86_400_000} days`,
        });
      } else {
        decision.keep.push({
          id: b.id,
          reasons: [
            { rule: 'recent-failure', until, text: `${b.state}; listed until ${until.toISOString()}, never counted` },
          ],
        });
      }
    } else {
      const kept = reasons.get(b.id);
      if (kept) decision.keep.push({ id: b.id, reasons: kept });
      else decision.delete.push({ id: b.id, ...notKept(b, retention) });
    }
  }
  return decision;
}

function notKept(b: RetentionBackup, retention: Plan['retention']): { rule: DeleteRule; reason: string } {
  if (b.trigger === 'manual') {
    return {
      rule: 'manual-over-count',
      reason: `older than the ${retention.manual} newest verified manual backups kept`,
    };
  }
  const tiers = scheduledTiersText(retention);
  return {
    rule: 'scheduled-outside-tiers',
    reason: tiers
      ? `not the newest verified scheduled backup of any of the last ${tiers} kept`
      : 'the plan keeps no scheduled backups beyond the newest',
  };
}

/**
 * The scheduled tiers a plan keeps, leaving out those it lacks: "7 days and 4 weeks" for Basic,
 * "24 hours, 14 days, 8 weeks and 6 months" for one with all four; null when it keeps none.
 */
export function scheduledTiersText(retention: Plan['retention']): string | null {
  const tiers = TIERS.filter((t) => retention[t.rule] > 0).map((t) => `${retention[t.rule]} ${t.plural}`);
  if (tiers.length === 0) return null;
  return tiers.length === 1 ? tiers[0]! : `${tiers.slice(0, -1).join(', ')} and ${tiers.at(-1)!}`;
}

// A completed backup always has startedAt; an unstarted failure falls back to when it was requested.
function dated(b: RetentionBackup): Date {
  return b.startedAt ?? b.createdAt;
}

function newestFirst(a: RetentionBackup, b: RetentionBackup): number {
  return dated(b).getTime() - dated(a).getTime() || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0);
}
