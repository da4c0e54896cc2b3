import test from 'node:test';
import assert from 'node:assert/strict';
import { drillDue } from '../../src/forks/restore-drill.ts';
import { PLANS } from '../../src/resources/plans.ts';

const DAY = 86_400_000;
const now = new Date('2026-03-10T12:00Z');
const ago = (days: number) => new Date(now.getTime() - days * DAY);

test('a drill is due by the setting, counted from the last drill, and only as the plan allows', () => {
  const all = PLANS.premium.drillPolicies!;
  assert.equal(drillDue('off', all, null, now), false);
  assert.equal(drillDue('every', all, ago(0), now), true);
  assert.equal(drillDue('weekly', all, null, now), true, 'the first drill is due at once');
  assert.equal(drillDue('weekly', all, ago(6), now), false);
  assert.equal(drillDue('weekly', all, ago(7), now), true);
  assert.equal(drillDue('monthly', all, ago(29), now), false);
  assert.equal(drillDue('monthly', all, ago(30), now), true);
  assert.equal(drillDue('every', PLANS.basic.drillPolicies!, null, now), false, 'Basic offers monthly drills only');
  assert.equal(drillDue('monthly', PLANS.basic.drillPolicies!, null, now), true);
});
