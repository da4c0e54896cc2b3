import test from 'node:test';
import assert from 'node:assert/strict';
import { PLANS, findPlan, planChangeBlockers } from '../../src/resources/plans.ts';

test('finds plans by slug with or without the service prefix', () => {
  assert.equal(findPlan('standard')?.slug, 'standard');
  assert.equal(findPlan('big-backup:premium')?.slug, 'premium');
  assert.equal(findPlan('enterprise'), undefined);
});

test("keeps every backup job under pg-boss's 24-hour expiry ceiling", () => {
  for (const plan of Object.values(PLANS)) assert.ok(plan.maxBackupHours < 24, plan.slug);
});

test('orders plans so each allows at least what the one below does', () => {
  const [basic, standard, premium] = [PLANS.basic, PLANS.standard, PLANS.premium];
  for (const [low, high] of [
    [basic, standard],
    [standard, premium],
  ] as const) {
    assert.ok(high.maxDatabaseBytes >= low.maxDatabaseBytes);
    assert.ok(high.retention.manual >= low.retention.manual);
    assert.ok(high.parallelStreams >= low.parallelStreams);
  }
});

test('blocks a move to a plan whose database limit the resource exceeds', () => {
  const blockers = planChangeBlockers({ largestDatabaseBytes: 300e9, scheduleFrequency: null }, PLANS.basic);
  assert.equal(blockers.length, 1);
  assert.match(blockers[0]!, /300 GB.*250 GB/);
});

test('blocks a move to a plan that does not offer the current schedule frequency', () => {
  const blockers = planChangeBlockers({ largestDatabaseBytes: null, scheduleFrequency: 'hourly' }, PLANS.basic);
  assert.match(blockers[0]!, /hourly.*change the schedule to daily/);
});

test('allows a move the resource fits', () => {
  assert.deepEqual(planChangeBlockers({ largestDatabaseBytes: 100e9, scheduleFrequency: 'daily' }, PLANS.basic), []);
});

test('runs more pieces of a sharded backup at once, for longer, on each plan up', () => {
  assert.deepEqual(
    [PLANS.basic, PLANS.standard, PLANS.premium].map((p) => [p.shardConcurrency, p.shardedBackupHours]),
    [
      [2, 24],
      [4, 48],
      [8, 72],
    ],
  );
});
