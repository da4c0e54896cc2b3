import test from 'node:test';
import assert from 'node:assert/strict';
import type { BackupState, BackupTrigger } from '../../src/backups/backup.ts';
import {
  FAILED_BACKUP_VISIBLE_MS,
  decideRetention,
  isStale,
  scheduledTiersText,
  type RetentionBackup,
  type RetentionDecision,
  type RetentionInput,
} from '../../src/backups/retention.ts';
import { PLANS, type Plan } from '../../src/resources/plans.ts';

const DAY = 86_400_000;
const NONE: Plan['retention'] = { manual: 0, hourly: 0, daily: 0, weekly: 0, monthly: 0 };

function backup(
  id: string,
  trigger: BackupTrigger,
  state: BackupState,
  startedIso: string,
  finishedIso?: string | null,
): RetentionBackup {
  const startedAt = new Date(startedIso);
  return {
    id,
    trigger,
    state,
    createdAt: startedAt,
    startedAt,
    finishedAt: finishedIso === null ? null : new Date(finishedIso ?? startedAt.getTime() + 3_600_000),
  };
}

function decide(
  backups: RetentionBackup[],
  retention: Partial<Plan['retention']>,
  nowIso: string,
  timeZone = 'UTC',
): RetentionDecision {
  return decideRetention({ backups, retention: { ...NONE, ...retention }, timeZone, now: new Date(nowIso) });
}

const keptIds = (d: RetentionDecision) => d.keep.map((k) => k.id);
const deletedIds = (d: RetentionDecision) => d.delete.map((k) => k.id);
const rulesOf = (d: RetentionDecision, id: string) => d.keep.find((k) => k.id === id)?.reasons.map((r) => r.rule);

// --- the floor ----------------------------------------------------------------------------

test('keeps the newest verified backup when it is older than every window and every newer one failed', () => {
  const backups = [
    backup('old-ok', 'scheduled', 'completed', '2025-01-01T02:00Z'),
    backup('older-ok', 'scheduled', 'completed', '2024-12-31T02:00Z'),
    ...Array.from({ length: 20 }, (_, i) =>
      backup(`fail-${i}`, 'scheduled', 'failed', new Date(Date.parse('2026-03-01T02:00Z') + i * DAY).toISOString()),
    ),
  ];
  const decision = decide(backups, PLANS.basic.retention, '2026-03-21T12:00Z');
  assert.deepEqual(rulesOf(decision, 'old-ok'), ['newest', 'daily', 'weekly']);
  // Failures count for nothing and go once they have been listed for 7 days.
  assert.deepEqual(
    deletedIds(decision),
    Array.from({ length: 14 }, (_, i) => `fail-${13 - i}`),
  );
  // The older one is within the last 7 days that *have* a verified backup, so GFS keeps it too.
  assert.ok(keptIds(decision).includes('older-ok'));
});

test('keeps the newest verified backup even when the plan keeps nothing at all', () => {
  const decision = decide(
    [
      backup('m1', 'manual', 'completed', '2026-03-01T00:00Z'),
      backup('s1', 'scheduled', 'completed', '2026-03-02T00:00Z'),
      backup('s0', 'scheduled', 'completed', '2026-02-02T00:00Z'),
    ],
    NONE,
    '2027-01-01T00:00Z',
  );
  assert.deepEqual(decision.keep, [
    { id: 's1', reasons: [{ rule: 'newest', text: 'the newest verified backup, which is never deleted' }] },
  ]);
  assert.deepEqual(decision.delete, [
    { id: 'm1', rule: 'manual-over-count', reason: 'older than the 0 newest verified manual backups kept' },
    { id: 's0', rule: 'scheduled-outside-tiers', reason: 'the plan keeps no scheduled backups beyond the newest' },
  ]);
});

test('keeps a manual backup as the newest even beyond the manual count', () => {
  const decision = decide(
    [
      backup('m-new', 'manual', 'completed', '2026-03-02T00:00Z'),
      backup('s-old', 'scheduled', 'completed', '2026-03-01T00:00Z'),
    ],
    { daily: 1 },
    '2026-03-03T00:00Z',
  );
  assert.deepEqual(rulesOf(decision, 'm-new'), ['newest']);
  assert.deepEqual(rulesOf(decision, 's-old'), ['daily']);
});

// --- only verified backups count ----------------------------------------------------------

test('deletes the oldest manual backup only once the one past the count has verified', () => {
  const done = [
    backup('m1', 'manual', 'completed', '2026-03-01T00:00Z'),
    backup('m2', 'manual', 'completed', '2026-03-02T00:00Z'),
  ];
  for (const state of ['pending', 'running', 'verifying', 'failed', 'canceled'] as const) {
    const decision = decide(
      [...done, backup('m3', 'manual', state, '2026-03-03T00:00Z')],
      { manual: 2 },
      '2026-03-03T06:00Z',
    );
    assert.deepEqual(deletedIds(decision), [], state);
  }
  const decision = decide(
    [...done, backup('m3', 'manual', 'completed', '2026-03-03T00:00Z')],
    { manual: 2 },
    '2026-03-03T06:00Z',
  );
  assert.deepEqual(deletedIds(decision), ['m1']);
  assert.deepEqual(decision.delete[0]?.rule, 'manual-over-count');
});

test('does not let failed scheduled backups fill a daily period', () => {
  const decision = decide(
    [
      backup('ok', 'scheduled', 'completed', '2026-03-01T02:00Z'),
      backup('ok-prev', 'scheduled', 'completed', '2026-02-28T02:00Z'),
      backup('bad', 'scheduled', 'failed', '2026-03-02T02:00Z'),
    ],
    { daily: 2 },
    '2026-03-02T12:00Z',
  );
  assert.deepEqual(deletedIds(decision), []);
  assert.deepEqual(rulesOf(decision, 'ok-prev'), ['daily']);
});

// --- failures and unfinished backups ------------------------------------------------------

test('lists failed and canceled backups for seven days after they ended, then deletes them', () => {
  const failed = backup('f', 'scheduled', 'failed', '2026-03-01T00:00Z', '2026-03-01T05:00Z');
  const canceled = backup('c', 'manual', 'canceled', '2026-03-01T00:00Z', '2026-03-01T05:00Z');
  const justBefore = decide(
    [failed, canceled],
    NONE,
    new Date(Date.parse('2026-03-01T05:00Z') + FAILED_BACKUP_VISIBLE_MS - 1).toISOString(),
  );
  assert.deepEqual(deletedIds(justBefore), []);
  assert.deepEqual(justBefore.keep[0]?.reasons[0]?.until, new Date('2026-03-08T05:00Z'));
  assert.deepEqual(
    justBefore.keep.map((k) => k.reasons[0]?.rule),
    ['recent-failure', 'recent-failure'],
  );
  const atSeven = decide([failed, canceled], NONE, '2026-03-08T05:00Z');
  assert.deepEqual(
    atSeven.delete.map((d) => d.rule),
    ['failure-expired', 'failure-expired'],
  );
  assert.match(atSeven.delete[0]!.reason, /stay listed for 7 days/);
});

test('ages a failure that never started from when it was requested', () => {
  const never: RetentionBackup = {
    id: 'n',
    trigger: 'scheduled',
    state: 'failed',
    createdAt: new Date('2026-03-01T00:00Z'),
    startedAt: null,
    finishedAt: null,
  };
  assert.deepEqual(deletedIds(decide([never], NONE, '2026-03-07T23:59Z')), []);
  assert.deepEqual(deletedIds(decide([never], NONE, '2026-03-08T00:00Z')), ['n']);
});

test('never touches pending, running or verifying backups, however old', () => {
  const backups = (['pending', 'running', 'verifying'] as const).map((state, i) => ({
    ...backup(`u${i}`, 'scheduled', state, '2020-01-01T00:00Z', null),
  }));
  const decision = decide(backups, NONE, '2026-03-01T00:00Z');
  assert.deepEqual(deletedIds(decision), []);
  assert.deepEqual(
    decision.keep.map((k) => k.reasons[0]?.rule),
    ['unfinished', 'unfinished', 'unfinished'],
  );
  assert.deepEqual(decide([{ ...backups[0]!, startedAt: null }], NONE, '2026-03-01T00:00Z').delete, []);
});

// --- manual -------------------------------------------------------------------------------

test("keeps the newest manual backups up to the plan's count, and says which rank each holds", () => {
  const backups = Array.from({ length: 12 }, (_, i) =>
    backup(
      `m${String(i).padStart(2, '0')}`,
      'manual',
      'completed',
      new Date(Date.parse('2026-03-01T00:00Z') + i * DAY).toISOString(),
    ),
  );
  const decision = decide(backups, PLANS.basic.retention, '2026-03-20T00:00Z');
  assert.deepEqual(deletedIds(decision), ['m01', 'm00']);
  assert.equal(decision.keep.length, 10);
  assert.deepEqual(
    decision.keep.find((k) => k.id === 'm11')?.reasons.map((r) => r.text),
    ['the newest verified backup, which is never deleted', 'manual backup 1 of the 10 newest kept'],
  );
  assert.deepEqual(
    decision.keep.find((k) => k.id === 'm02')?.reasons.map((r) => r.text),
    ['manual backup 10 of the 10 newest kept'],
  );
});

test('counts manual and scheduled backups separately', () => {
  const decision = decide(
    [
      backup('m', 'manual', 'completed', '2026-03-01T00:00Z'),
      backup('s1', 'scheduled', 'completed', '2026-03-02T00:00Z'),
      backup('s2', 'scheduled', 'completed', '2026-03-03T00:00Z'),
    ],
    { manual: 1, daily: 1 },
    '2026-03-04T00:00Z',
  );
  assert.deepEqual(keptIds(decision), ['s2', 'm']);
  assert.deepEqual(deletedIds(decision), ['s1']);
});

// --- grandfather-father-son ---------------------------------------------------------------

test('keeps the newest backup of each of the last N local days that have one', () => {
  const decision = decide(
    [
      backup('d3-late', 'scheduled', 'completed', '2026-03-03T20:00Z'),
      backup('d3-early', 'scheduled', 'completed', '2026-03-03T02:00Z'),
      backup('d1', 'scheduled', 'completed', '2026-03-01T02:00Z'), // 2 March has none: 1 March is the second day
      backup('d0', 'scheduled', 'completed', '2026-02-28T02:00Z'),
    ],
    { daily: 2 },
    '2026-03-04T00:00Z',
  );
  assert.deepEqual(keptIds(decision), ['d3-late', 'd1']);
  assert.deepEqual(deletedIds(decision), ['d3-early', 'd0']);
  assert.deepEqual(decision.keep[1]?.reasons, [
    { rule: 'daily', period: '2026-03-01', text: 'newest of day 2026-03-01 (2 of the last 2 days kept)' },
  ]);
});

test("counts days in the resource's time zone, not in UTC", () => {
  // 23:30 and 03:30 UTC are the same evening in New York (EDT), and different UTC days.
  const backups = [
    backup('late', 'scheduled', 'completed', '2026-03-11T03:30Z'),
    backup('early', 'scheduled', 'completed', '2026-03-10T23:30Z'),
    backup('before', 'scheduled', 'completed', '2026-03-09T23:30Z'),
  ];
  assert.deepEqual(keptIds(decide(backups, { daily: 2 }, '2026-03-12T00:00Z', 'America/New_York')), ['late', 'before']);
  assert.deepEqual(keptIds(decide(backups, { daily: 2 }, '2026-03-12T00:00Z', 'UTC')), ['late', 'early']);
  // In Kolkata (+05:30) 23:30 UTC is already the next morning.
  const kolkata = decide(backups, { daily: 3 }, '2026-03-12T00:00Z', 'Asia/Kolkata');
  assert.deepEqual(
    kolkata.keep.map((k) => [k.id, k.reasons.at(-1)?.period]),
    [
      ['late', '2026-03-11'],
      ['before', '2026-03-10'],
    ],
  );
});

test('treats the 25-hour fall-back day as one day and the repeated hour as one hour', () => {
  const backups = [
    backup('second-0130', 'scheduled', 'completed', '2026-11-01T06:30Z'), // 01:30 EST
    backup('first-0130', 'scheduled', 'completed', '2026-11-01T05:30Z'), // 01:30 EDT
  ];
  const decision = decide(backups, { hourly: 5, daily: 5 }, '2026-11-02T00:00Z', 'America/New_York');
  assert.deepEqual(keptIds(decision), ['second-0130']);
  assert.deepEqual(
    decision.keep[0]?.reasons.map((r) => r.period),
    [undefined, '2026-11-01T01', '2026-11-01'],
  );
});

test('files weekly backups by ISO week, Monday to Sunday, across a year end', () => {
  const backups = [
    backup('mon-2027-01-04', 'scheduled', 'completed', '2027-01-04T02:00Z'), // 2027-W01
    backup('sun-2027-01-03', 'scheduled', 'completed', '2027-01-03T02:00Z'), // 2026-W53
    backup('thu-2026-12-31', 'scheduled', 'completed', '2026-12-31T02:00Z'), // 2026-W53
    backup('sun-2026-12-27', 'scheduled', 'completed', '2026-12-27T02:00Z'), // 2026-W52
  ];
  const decision = decide(backups, { weekly: 3 }, '2027-01-05T00:00Z');
  assert.deepEqual(
    decision.keep.map((k) => k.reasons.at(-1)?.period),
    ['2027-W01', '2026-W53', '2026-W52'],
  );
  assert.deepEqual(deletedIds(decision), ['thu-2026-12-31']);
});

test('keeps one backup per month for the last N months that have one', () => {
  const backups = ['2026-01-31T12:00Z', '2026-01-15T12:00Z', '2025-12-31T12:00Z', '2025-11-01T12:00Z'].map((at, i) =>
    backup(`b${i}`, 'scheduled', 'completed', at),
  );
  const decision = decide(backups, { monthly: 2 }, '2026-03-01T00:00Z');
  assert.deepEqual(keptIds(decision), ['b0', 'b2']);
  assert.deepEqual(
    decision.keep.map((k) => k.reasons.at(-1)?.period),
    ['2026-01', '2025-12'],
  );
});

test('keeps hourly backups for the last N hours that have one', () => {
  const backups = Array.from({ length: 30 }, (_, i) =>
    backup(
      `h${String(i).padStart(2, '0')}`,
      'scheduled',
      'completed',
      new Date(Date.parse('2026-03-01T00:05Z') + i * 3_600_000).toISOString(),
    ),
  );
  const decision = decide(backups, { hourly: 24 }, '2026-03-02T06:10Z');
  assert.equal(decision.keep.length, 24);
  assert.deepEqual(deletedIds(decision), ['h05', 'h04', 'h03', 'h02', 'h01', 'h00']);
});

test("keeps ninety days of daily backups down to the basic plan's 7 days and 4 weeks", () => {
  // Daily at 02:00 UTC from Wednesday 2025-12-31 to Monday 2026-03-30.
  const backups = Array.from({ length: 90 }, (_, i) =>
    backup(
      new Date(Date.parse('2025-12-31T02:00Z') + i * DAY).toISOString().slice(0, 10),
      'scheduled',
      'completed',
      new Date(Date.parse('2025-12-31T02:00Z') + i * DAY).toISOString(),
    ),
  );
  const decision = decide(backups, PLANS.basic.retention, '2026-03-30T12:00Z');
  // Days 03-24..03-30; weeks W14 (03-30), W13 (Sun 03-29), W12 (Sun 03-22), W11 (Sun 03-15).
  assert.deepEqual(keptIds(decision), [
    '2026-03-30',
    '2026-03-29',
    '2026-03-28',
    '2026-03-27',
    '2026-03-26',
    '2026-03-25',
    '2026-03-24',
    '2026-03-22',
    '2026-03-15',
  ]);
  assert.deepEqual(rulesOf(decision, '2026-03-29'), ['daily', 'weekly']);
  assert.equal(decision.delete.length, 81);
  assert.ok(decision.delete.every((d) => d.rule === 'scheduled-outside-tiers'));
  assert.equal(
    decision.delete[0]?.reason,
    'not the newest verified scheduled backup of any of the last 7 days and 4 weeks kept',
  );
});

test('lists every rule that keeps a backup', () => {
  const decision = decide(
    [backup('only', 'scheduled', 'completed', '2026-03-01T00:00Z')],
    PLANS.premium.retention,
    '2026-03-01T02:00Z',
  );
  assert.deepEqual(rulesOf(decision, 'only'), ['newest', 'hourly', 'daily', 'weekly', 'monthly']);
});

// --- determinism and idempotence ----------------------------------------------------------

// A small seeded generator, so a failure reproduces.
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

function randomInput(next: () => number): RetentionInput {
  const states: BackupState[] = [
    'completed',
    'completed',
    'completed',
    'completed',
    'failed',
    'canceled',
    'pending',
    'running',
    'verifying',
  ];
  const now = Date.parse('2026-11-02T12:00Z');
  const backups = Array.from({ length: Math.floor(next() * 120) }, (_, i) => {
    // Some on the same instant, to exercise the id tie-break.
    const startedAt = new Date(now - Math.floor(next() * 400) * (next() < 0.5 ? 3_600_000 : DAY / 3));
    const state = states[Math.floor(next() * states.length)]!;
    return {
      id: `b${i}`,
      trigger: next() < 0.3 ? 'manual' : 'scheduled',
      state,
      createdAt: startedAt,
      startedAt,
      finishedAt:
        state === 'completed' || state === 'failed' || state === 'canceled'
          ? new Date(startedAt.getTime() + 1_800_000)
          : null,
    } satisfies RetentionBackup;
  });
  const count = () => Math.floor(next() * 8);
  return {
    backups,
    now: new Date(now),
    retention: { manual: count(), hourly: count(), daily: count(), weekly: count(), monthly: count() },
    timeZone: ['UTC', 'America/New_York', 'Europe/Berlin', 'Asia/Kolkata'][Math.floor(next() * 4)]!,
  };
}

test('deletes nothing more when run again on what it kept', () => {
  const next = random(20260308);
  for (let run = 0; run < 300; run++) {
    const input = randomInput(next);
    const first = decideRetention(input);
    const survivors = input.backups.filter((b) => keptIds(first).includes(b.id));
    const second = decideRetention({ ...input, backups: survivors });
    assert.deepEqual(second.delete, [], `run ${run}`);
    assert.deepEqual(keptIds(second), keptIds(first), `run ${run}`);
  }
});

test('gives the same answer whatever order the backups come in, and places every backup once', () => {
  const next = random(42);
  for (let run = 0; run < 200; run++) {
    const input = randomInput(next);
    const decision = decideRetention(input);
    const shuffled = [...input.backups].sort(() => next() - 0.5);
    assert.deepEqual(decideRetention({ ...input, backups: shuffled }), decision, `run ${run}`);
    assert.deepEqual([...keptIds(decision), ...deletedIds(decision)].sort(), input.backups.map((b) => b.id).sort());
    for (const b of input.backups.filter((b) => ['pending', 'running', 'verifying'].includes(b.state))) {
      assert.ok(keptIds(decision).includes(b.id), `run ${run}: unfinished ${b.id} deleted`);
    }
    const completed = input.backups.filter((b) => b.state === 'completed');
    const newestAt = Math.max(...completed.map((b) => b.startedAt!.getTime()));
    if (completed.length) {
      assert.ok(
        completed.some((b) => b.startedAt!.getTime() === newestAt && keptIds(decision).includes(b.id)),
        `run ${run}: newest verified deleted`,
      );
    }
  }
});

// --- staleness ----------------------------------------------------------------------------

test('alerts when the newest verified backup is older than one and a half schedule intervals', () => {
  const now = new Date('2026-03-10T12:00:00Z');
  assert.equal(isStale(new Date(now.getTime() - 36 * 3_600_000), 'daily', now), false);
  assert.equal(isStale(new Date(now.getTime() - 36 * 3_600_000 - 1), 'daily', now), true);
  assert.equal(isStale(new Date(now.getTime() - 90 * 60_000), 'hourly', now), false);
  assert.equal(isStale(new Date(now.getTime() - 90 * 60_000 - 1), 'hourly', now), true);
});

test('names only the scheduled tiers a plan keeps, joined as a sentence', () => {
  assert.equal(scheduledTiersText(PLANS.basic.retention), '7 days and 4 weeks');
  assert.equal(
    scheduledTiersText({ ...NONE, hourly: 24, daily: 14, weekly: 8, monthly: 6 }),
    '24 hours, 14 days, 8 weeks and 6 months',
  );
  assert.equal(scheduledTiersText({ ...NONE, monthly: 3 }), '3 months');
  assert.equal(scheduledTiersText(NONE), null);
});

// --- backups awaiting re-verification -------------------------------------------------------

test('keeps a backup awaiting re-verification without letting it stand in for the older provable one', () => {
  const flagged = {
    ...backup('m-new', 'manual', 'completed', '2026-03-02T00:00Z'),
    reverificationRequestedAt: new Date('2026-03-03T00:00Z'),
  };
  const decision = decide(
    [flagged, backup('m-old', 'manual', 'completed', '2026-03-01T00:00Z')],
    { manual: 1 },
    '2026-03-04T00:00Z',
  );
  assert.deepEqual(deletedIds(decision), []);
  assert.deepEqual(rulesOf(decision, 'm-old'), ['newest', 'manual']);
  assert.deepEqual(rulesOf(decision, 'm-new'), ['awaiting-reverification']);
});

test('keeps a backup awaiting re-verification even when it is the only completed one and the plan keeps nothing', () => {
  const flagged = {
    ...backup('s1', 'scheduled', 'completed', '2026-03-02T00:00Z'),
    reverificationRequestedAt: new Date('2026-03-03T00:00Z'),
  };
  const decision = decide([flagged], NONE, '2027-01-01T00:00Z');
  assert.deepEqual(rulesOf(decision, 's1'), ['awaiting-reverification']);
  assert.deepEqual(deletedIds(decision), []);
});

// --- issue 15: corrupt archives and restore drills -----------------------------------------

test('a corrupt backup counts for nothing: the verified one before it is the newest, and it goes a week after it was found', () => {
  const corrupt = {
    ...backup('corrupt', 'manual', 'corrupt', '2026-03-10T02:00Z'),
    corruptAt: new Date('2026-03-12T00:00Z'),
  };
  const backups = [corrupt, backup('before', 'manual', 'completed', '2026-03-09T02:00Z')];
  const soon = decide(backups, { manual: 1 }, '2026-03-13T00:00Z');
  assert.deepEqual(rulesOf(soon, 'before'), ['newest', 'manual']);
  assert.deepEqual(rulesOf(soon, 'corrupt'), ['recent-corruption']);
  const later = decide(backups, { manual: 1 }, '2026-03-19T00:01Z');
  assert.deepEqual(deletedIds(later), ['corrupt']);
});

test('keeps the newest backup whose restore drill passed while newer ones have not passed one', () => {
  const backups = [
    backup('newest', 'manual', 'completed', '2026-03-10T02:00Z'),
    backup('drilled', 'manual', 'completed', '2026-03-09T02:00Z'),
    backup('drilled-older', 'manual', 'completed', '2026-03-08T02:00Z'),
  ];
  const now = new Date('2026-03-11T00:00Z');
  const retention = { ...NONE, manual: 1 };
  const without = decideRetention({ backups, retention, timeZone: 'UTC', now });
  assert.deepEqual(deletedIds(without), ['drilled', 'drilled-older']);
  const withDrills = decideRetention({
    backups,
    retention,
    timeZone: 'UTC',
    now,
    drillPassed: new Set(['drilled', 'drilled-older']),
  });
  assert.deepEqual(rulesOf(withDrills, 'drilled'), ['drill-passed']);
  assert.deepEqual(deletedIds(withDrills), ['drilled-older']);
  const newestDrilled = decideRetention({ backups, retention, timeZone: 'UTC', now, drillPassed: new Set(['newest']) });
  assert.deepEqual(
    deletedIds(newestDrilled),
    ['drilled', 'drilled-older'],
    'once the newest passed, the older ones go',
  );
});
