import { BackupFailure } from '../shared/backup-failure.ts';
import { formatDatabaseBytes, upgradeFor, PLANS, type Plan, type PlanCatalogue } from '../resources/plans.ts';

/**
 * The database is larger than the plan backs up (found by the probe, before pg_dump starts). Not
 * retryable: another attempt would find the same database.
 */
export function databaseTooLarge(
  plan: Plan,
  databaseBytes: number,
  addonName: string,
  catalogue: PlanCatalogue = PLANS,
): BackupFailure {
  // Rounded up, so a database just over the limit never reads as equal to it.
  const size = `the database is ${formatDatabaseBytes(databaseBytes, Math.ceil)}`;
  const limit = `the ${plan.title} plan backs up databases up to ${formatDatabaseBytes(plan.maxDatabaseBytes)}`;
  const fits = upgradeFor(plan, databaseBytes, catalogue);
  const message = fits
    ? `${size}; ${limit}: ${upgrade(addonName, fits)}`
    : `${size}; ${limit}, and no plan backs up a database this large`;
  return new BackupFailure('too_large', message, { retryable: false });
}

/**
 * The archive grew past the plan's cap while it was written: more than any database within the plan
 * dumps to, so the database outgrew the plan during the backup. Not retryable: the next attempt would
 * find the database over the limit.
 */
export function archiveTooLarge(plan: Plan, addonName: string, catalogue: PlanCatalogue = PLANS): BackupFailure {
  const grew =
    `the archive grew past ${formatDatabaseBytes(plan.maxArchiveBytes)}, more than a database within the ` +
    `${plan.title} plan's ${formatDatabaseBytes(plan.maxDatabaseBytes)} can produce, so the database has outgrown the plan`;
  const next = upgradeFor(plan, 0, catalogue);
  const message = next ? `${grew}: ${upgrade(addonName, next)}` : `${grew}, the largest there is`;
  return new BackupFailure('too_large', message, { retryable: false });
}

function upgrade(addonName: string, plan: Plan): string {
  return `upgrade with \`heroku addons:upgrade ${addonName} big-backup:${plan.slug}\``;
}
