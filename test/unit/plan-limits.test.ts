import test from 'node:test';
import assert from 'node:assert/strict';
import { PLANS, upgradeFor } from '../../src/resources/plans.ts';
import { archiveTooLarge, databaseTooLarge } from '../../src/jobs/plan-limit-failures.ts';

test("caps each plan's archive at 1.2 times its database limit, what a database within it can dump to", () => {
  for (const plan of Object.values(PLANS)) {
    assert.equal(plan.maxArchiveBytes, Math.ceil(1.2 * plan.maxDatabaseBytes), plan.slug);
  }
});

test('the upgrade for a database is the smallest larger plan that covers it', () => {
  assert.equal(upgradeFor(PLANS.basic, 300e9)?.slug, 'standard');
  assert.equal(upgradeFor(PLANS.basic, 2_000e9)?.slug, 'premium');
  assert.equal(upgradeFor(PLANS.standard, 0)?.slug, 'premium');
  assert.equal(upgradeFor(PLANS.premium, 5_000e9), undefined);
  assert.equal(upgradeFor(PLANS.premium, 0), undefined);
});

test('a database over its plan fails as too_large, not retried, naming its size, the limit and the upgrade', () => {
  const failure = databaseTooLarge(PLANS.standard, 1_000_400_000_000, 'big-backup-curved-12345');
  assert.equal(failure.kind, 'too_large');
  assert.equal(failure.retryable, false);
  assert.equal(
    failure.message,
    'the database is 1,001 GB; the Standard plan backs up databases up to 1,000 GB: upgrade with `heroku addons:upgrade big-backup-curved-12345 big-backup:premium`',
  );
  assert.equal(
    databaseTooLarge(PLANS.premium, 4_100e9, 'big-backup-curved-12345').message,
    'the database is 4,100 GB; the Premium plan backs up databases up to 4,000 GB, and no plan backs up a database this large',
  );
});

test('an archive past the cap fails as too_large, not retried, saying the database outgrew the plan', () => {
  const failure = archiveTooLarge(PLANS.basic, 'big-backup-curved-12345');
  assert.equal(failure.kind, 'too_large');
  assert.equal(failure.retryable, false);
  assert.equal(
    failure.message,
    "the archive grew past 300 GB, more than a database within the Basic plan's 250 GB can produce, so the database has outgrown the plan: upgrade with `heroku addons:upgrade big-backup-curved-12345 big-backup:standard`",
  );
  assert.match(archiveTooLarge(PLANS.premium, 'x').message, /outgrown the plan, the largest there is$/);
});
