import test from 'node:test';
import assert from 'node:assert/strict';
import Timekeeper from 'pg-boss/dist/timekeeper.js';
import { assertTimezone } from 'pg-boss/dist/timezone.js';
import { PLANS } from '../../src/resources/plans.ts';
import {
  TIME_ZONE_CHOICES,
  cronFor,
  nextRuns,
  scheduleSchema,
  scheduleSchemaFor,
  slotKey,
  type Schedule,
} from '../../src/backups/schedule.ts';

// The cron pass's own read of "what is due now", a private method that uses no instance state.
// Calling it is the point: these tests pin what pg-boss really sends, not what its docs preview.
const readOccurrences = (
  Timekeeper.prototype as unknown as {
    readOccurrences(this: void, cron: string, kind: 'cron', tz: string, databaseTime: number): Date[];
  }
).readOccurrences;

/**
 * Every occurrence pg-boss's cron pass sends for `cron` between two instants, replaying a pass
 * every 30 seconds as the timekeeper does. Passes run only in minutes whose UTC minute is `minute`
 * modulo 15: every zone's offset is a multiple of 15 minutes, so those are the only minutes a cron
 * minute field can match, and skipping the rest keeps the replay fast.
 */
function pgBossSends(cron: string, tz: string, minute: number, fromIso: string, toIso: string): Date[] {
  const fires = new Map<number, Date>();
  for (let t = Date.parse(fromIso); t < Date.parse(toIso); t += 30_000) {
    if ((new Date(t).getUTCMinutes() - minute + 60) % 15 !== 0) continue;
    try {
      for (const occurrence of readOccurrences(cron, 'cron', tz, t)) fires.set(occurrence.getTime(), occurrence);
    } catch {
      // As the pass does: it warns and skips the schedule until the next pass. cron-parser's prev()
      // throws "loop limit exceeded" for a while after Lord Howe Island's half-hour change.
    }
  }
  return [...fires.values()].sort((a, b) => a.getTime() - b.getTime());
}

/** What pg-boss sends for a schedule, through the cron we give it. */
function pgBossFires(schedule: Schedule, fromIso: string, toIso: string): Date[] {
  const { cron, tz } = cronFor(schedule);
  return pgBossSends(cron, tz, schedule.minute, fromIso, toIso);
}

/** The slots those fires fill, in order, each with its first fire: what actually starts a backup. */
function backupsStarted(schedule: Schedule, fires: Date[], delayMs = 0): { key: string; at: string }[] {
  const started = new Map<string, string>();
  for (const fire of fires) {
    const key = slotKey('res', schedule, new Date(fire.getTime() + delayMs));
    if (!started.has(key)) started.set(key, fire.toISOString());
  }
  return [...started].map(([key, at]) => ({ key, at }));
}

const daily = (hour: number, minute: number, timeZone: string): Schedule => ({
  frequency: 'daily',
  hour,
  minute,
  timeZone,
});
const hourly = (minute: number, timeZone: string): Schedule => ({ frequency: 'hourly', minute, timeZone });
const iso = (dates: Date[]) => dates.map((d) => d.toISOString());

function consecutiveDays(first: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    new Date(Date.parse(first) + i * 86_400_000).toISOString().slice(0, 10),
  );
}

// --- what pg-boss does on its own (documents the behaviour the design works around) ---------

test('pg-boss sends nothing on the spring-forward day for a daily time inside the gap', () => {
  const sent = pgBossSends('30 2 * * *', 'America/New_York', 30, '2026-03-07T00:00Z', '2026-03-10T00:00Z');
  assert.deepEqual(iso(sent), ['2026-03-07T07:30:00.000Z', '2026-03-09T06:30:00.000Z']);
  // which is why cronFor adds the hour after: it fires at 03:30 EDT that day
  assert.ok(
    iso(pgBossFires(daily(2, 30, 'America/New_York'), '2026-03-08T00:00Z', '2026-03-09T00:00Z')).includes(
      '2026-03-08T07:30:00.000Z',
    ),
  );
});

test('pg-boss sends a daily time inside the fall-back overlap twice, an hour apart', () => {
  const sent = pgBossSends('30 1 * * *', 'America/New_York', 30, '2026-11-01T00:00Z', '2026-11-02T00:00Z');
  assert.deepEqual(iso(sent), ['2026-11-01T05:30:00.000Z', '2026-11-01T06:30:00.000Z']);
});

// --- exactly one backup per local day -----------------------------------------------------

const dstCases: {
  name: string;
  schedule: Schedule;
  from: string;
  to: string;
  days: string[];
  gapDay?: string;
  gapAt?: string;
}[] = [
  {
    name: 'America/New_York spring forward, 02:30 does not exist',
    schedule: daily(2, 30, 'America/New_York'),
    from: '2026-03-06T12:00Z',
    to: '2026-03-10T12:00Z',
    days: consecutiveDays('2026-03-07', 4),
    gapDay: '2026-03-08',
    gapAt: '2026-03-08T07:30:00.000Z',
  },
  {
    name: 'America/New_York fall back, 01:30 happens twice',
    schedule: daily(1, 30, 'America/New_York'),
    from: '2026-10-30T12:00Z',
    to: '2026-11-03T12:00Z',
    days: consecutiveDays('2026-10-31', 4),
  },
  {
    name: 'Europe/Berlin spring forward, 02:30 does not exist',
    schedule: daily(2, 30, 'Europe/Berlin'),
    from: '2026-03-27T12:00Z',
    to: '2026-03-31T12:00Z',
    days: consecutiveDays('2026-03-28', 4),
    gapDay: '2026-03-29',
    gapAt: '2026-03-29T01:30:00.000Z',
  },
  {
    name: 'Europe/Berlin fall back, 02:30 happens twice',
    schedule: daily(2, 30, 'Europe/Berlin'),
    from: '2026-10-23T12:00Z',
    to: '2026-10-27T12:00Z',
    days: consecutiveDays('2026-10-24', 4),
  },
  {
    name: 'America/Santiago, midnight does not exist',
    schedule: daily(0, 30, 'America/Santiago'),
    from: '2026-09-04T12:00Z',
    to: '2026-09-08T12:00Z',
    days: consecutiveDays('2026-09-05', 4),
    gapDay: '2026-09-06',
    gapAt: '2026-09-06T04:30:00.000Z',
  },
  {
    name: 'America/Santiago, 23:30 happens twice',
    schedule: daily(23, 30, 'America/Santiago'),
    from: '2026-04-03T12:00Z',
    to: '2026-04-07T12:00Z',
    days: consecutiveDays('2026-04-03', 4),
  },
  {
    name: 'Australia/Lord_Howe, a half-hour change where 02:15 does not exist',
    schedule: daily(2, 15, 'Australia/Lord_Howe'),
    from: '2026-10-02T10:00Z',
    to: '2026-10-06T10:00Z',
    days: consecutiveDays('2026-10-03', 4),
    gapDay: '2026-10-04',
    gapAt: '2026-10-03T16:15:00.000Z',
  },
  {
    name: 'Australia/Lord_Howe, a half-hour change where 01:45 happens twice',
    schedule: daily(1, 45, 'Australia/Lord_Howe'),
    from: '2026-04-02T10:00Z',
    to: '2026-04-06T10:00Z',
    days: consecutiveDays('2026-04-03', 4),
  },
  {
    name: 'Asia/Kolkata, a half-hour zone without DST',
    schedule: daily(2, 30, 'Asia/Kolkata'),
    from: '2026-03-06T12:00Z',
    to: '2026-03-10T12:00Z',
    days: consecutiveDays('2026-03-07', 4),
  },
  {
    name: 'UTC at midnight',
    schedule: daily(0, 0, 'UTC'),
    from: '2026-03-06T12:00Z',
    to: '2026-03-10T12:00Z',
    days: consecutiveDays('2026-03-07', 4),
  },
];

for (const c of dstCases) {
  test(`starts exactly one daily backup per local day with two workers: ${c.name}`, () => {
    const fires = pgBossFires(c.schedule, c.from, c.to);
    const started = backupsStarted(c.schedule, fires);
    assert.deepEqual(
      started.map((s) => s.key),
      c.days.map((day) => `res:${day}`),
    );
    // Two workers stamp the same fire a few seconds apart, or a minute early by a skewed clock.
    for (const delay of [0, 5_000, 45_000, -60_000]) {
      assert.deepEqual(
        backupsStarted(c.schedule, fires, delay).map((s) => s.key),
        started.map((s) => s.key),
        `delay ${delay}`,
      );
    }
    assert.deepEqual(
      started.map((s) => s.at),
      iso(nextRuns(c.schedule, new Date(c.from), c.days.length)),
      'dashboard matches pg-boss',
    );
    if (c.gapDay) assert.deepEqual(started.find((s) => s.key === `res:${c.gapDay}`)?.at, c.gapAt);
  });
}

test('starts one hourly backup per local hour across spring forward, and none for the hour that does not exist', () => {
  const schedule = hourly(30, 'America/New_York');
  const started = backupsStarted(schedule, pgBossFires(schedule, '2026-03-08T04:00Z', '2026-03-08T10:00Z'));
  assert.deepEqual(
    started.map((s) => s.key),
    [
      'res:2026-03-07T23',
      'res:2026-03-08T00',
      'res:2026-03-08T01',
      'res:2026-03-08T03',
      'res:2026-03-08T04',
      'res:2026-03-08T05',
    ],
  );
  assert.deepEqual(
    started.map((s) => s.at),
    iso(nextRuns(schedule, new Date('2026-03-08T04:00Z'), 6)),
  );
});

test('starts one hourly backup for the local hour that happens twice on fall-back day', () => {
  const schedule = hourly(30, 'America/New_York');
  const fires = pgBossFires(schedule, '2026-11-01T03:00Z', '2026-11-01T09:00Z');
  assert.ok(
    fires.some((f) => f.toISOString() === '2026-11-01T06:30:00.000Z'),
    'pg-boss fires the repeated 01:30',
  );
  const started = backupsStarted(schedule, fires);
  assert.deepEqual(started, [
    { key: 'res:2026-10-31T23', at: '2026-11-01T03:30:00.000Z' },
    { key: 'res:2026-11-01T00', at: '2026-11-01T04:30:00.000Z' },
    { key: 'res:2026-11-01T01', at: '2026-11-01T05:30:00.000Z' },
    { key: 'res:2026-11-01T02', at: '2026-11-01T07:30:00.000Z' },
    { key: 'res:2026-11-01T03', at: '2026-11-01T08:30:00.000Z' },
  ]);
  assert.deepEqual(
    started.map((s) => s.at),
    iso(nextRuns(schedule, new Date('2026-11-01T03:00Z'), 5)),
  );
});

test('starts one hourly backup per local hour in Europe/Berlin across both changes', () => {
  const schedule = hourly(0, 'Europe/Berlin');
  const spring = backupsStarted(schedule, pgBossFires(schedule, '2026-03-29T00:30Z', '2026-03-29T02:30Z')).map(
    (s) => s.key,
  );
  assert.deepEqual(spring, ['res:2026-03-29T03', 'res:2026-03-29T04']);
  const autumn = backupsStarted(schedule, pgBossFires(schedule, '2026-10-24T23:30Z', '2026-10-25T02:30Z')).map(
    (s) => s.key,
  );
  assert.deepEqual(autumn, ['res:2026-10-25T02', 'res:2026-10-25T03']);
});

test('starts one hourly backup per hour in a half-hour zone and in UTC', () => {
  for (const [schedule, keys] of [
    [hourly(15, 'Asia/Kolkata'), ['res:2026-03-08T07', 'res:2026-03-08T08', 'res:2026-03-08T09']], // 00:50Z is 06:20 IST
    [hourly(15, 'UTC'), ['res:2026-03-08T01', 'res:2026-03-08T02', 'res:2026-03-08T03']],
  ] as const) {
    const started = backupsStarted(schedule, pgBossFires(schedule, '2026-03-08T00:50Z', '2026-03-08T03:50Z'));
    assert.deepEqual(
      started.map((s) => s.key),
      keys,
    );
    assert.deepEqual(
      started.map((s) => s.at),
      iso(nextRuns(schedule, new Date('2026-03-08T00:50Z'), 3)),
    );
  }
});

// --- slot keys ----------------------------------------------------------------------------

test('keys a daily slot by the local date, not the UTC date', () => {
  // 02:30 in Kolkata on 8 March is still 7 March in UTC.
  assert.equal(slotKey('res', daily(2, 30, 'Asia/Kolkata'), new Date('2026-03-07T21:00:10Z')), 'res:2026-03-08');
  assert.equal(slotKey('res', hourly(30, 'Asia/Kolkata'), new Date('2026-03-07T21:00:10Z')), 'res:2026-03-08T02');
});

test('keys a late fire to the slot it was sent for, even after local midnight', () => {
  const schedule = daily(23, 59, 'Europe/Berlin');
  assert.equal(slotKey('res', schedule, new Date('2026-06-10T22:10:00Z')), 'res:2026-06-10'); // 00:10 on the 11th
  assert.equal(slotKey('res', daily(2, 30, 'UTC'), new Date('2026-06-10T20:00:00Z')), 'res:2026-06-10');
  assert.equal(slotKey('res', hourly(50, 'UTC'), new Date('2026-06-10T03:20:00Z')), 'res:2026-06-10T02');
});

test('keys a fire stamped a little early by a skewed clock to its own slot', () => {
  assert.equal(slotKey('res', daily(2, 30, 'UTC'), new Date('2026-06-10T02:28:00Z')), 'res:2026-06-10');
  assert.equal(slotKey('res', daily(2, 30, 'UTC'), new Date('2026-06-10T02:20:00Z')), 'res:2026-06-09');
});

// --- nextRuns -----------------------------------------------------------------------------

test('lists the next runs strictly after the given time', () => {
  const schedule = daily(2, 30, 'UTC');
  assert.deepEqual(iso(nextRuns(schedule, new Date('2026-06-10T02:30:00Z'), 2)), [
    '2026-06-11T02:30:00.000Z',
    '2026-06-12T02:30:00.000Z',
  ]);
  assert.deepEqual(iso(nextRuns(schedule, new Date('2026-06-10T02:29:59Z'), 1)), ['2026-06-10T02:30:00.000Z']);
  assert.deepEqual(nextRuns(schedule, new Date(), 0), []);
  assert.throws(() => nextRuns(schedule, new Date(), -1), RangeError);
  assert.throws(() => nextRuns(schedule, new Date(), 1.5), RangeError);
});

test('lists a spring-forward run at the hour after, and a fall-back run once', () => {
  assert.deepEqual(iso(nextRuns(daily(2, 30, 'America/New_York'), new Date('2026-03-08T00:00Z'), 2)), [
    '2026-03-08T07:30:00.000Z',
    '2026-03-09T06:30:00.000Z',
  ]);
  assert.deepEqual(iso(nextRuns(daily(1, 30, 'America/New_York'), new Date('2026-11-01T00:00Z'), 2)), [
    '2026-11-01T05:30:00.000Z',
    '2026-11-02T06:30:00.000Z',
  ]);
  // Between the two 01:30s the repeat is not a run: that slot already started.
  assert.deepEqual(iso(nextRuns(hourly(30, 'America/New_York'), new Date('2026-11-01T06:00Z'), 1)), [
    '2026-11-01T07:30:00.000Z',
  ]);
});

// --- cron ---------------------------------------------------------------------------------

test("gives pg-boss a daily cron that also fires the hour after, in the schedule's zone", () => {
  assert.deepEqual(cronFor(daily(2, 30, 'America/New_York')), { cron: '30 2,3 * * *', tz: 'America/New_York' });
  assert.deepEqual(cronFor(daily(23, 5, 'UTC')), { cron: '5 23,0 * * *', tz: 'UTC' });
  assert.deepEqual(cronFor(hourly(0, 'Asia/Kolkata')), { cron: '0 * * * *', tz: 'Asia/Kolkata' });
});

// --- validation ---------------------------------------------------------------------------

const messages = (input: unknown, schema = scheduleSchema) => {
  const result = schema.safeParse(input);
  return result.success ? [] : result.error.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`);
};

test('accepts a daily and an hourly schedule, dropping the hour from an hourly one', () => {
  assert.deepEqual(scheduleSchema.parse({ frequency: 'daily', hour: 0, minute: 59, timeZone: 'Europe/Berlin' }), {
    frequency: 'daily',
    hour: 0,
    minute: 59,
    timeZone: 'Europe/Berlin',
  });
  assert.deepEqual(scheduleSchema.parse({ frequency: 'hourly', hour: 4, minute: 0, timeZone: 'UTC' }), {
    frequency: 'hourly',
    minute: 0,
    timeZone: 'UTC',
  });
});

test('refuses unknown time zones and bare offsets with a message naming the value', () => {
  for (const timeZone of ['America/New_Yrok', 'Mars/Olympus', '+05:30', '', 'local']) {
    const [message] = messages({ frequency: 'daily', hour: 2, minute: 0, timeZone });
    assert.match(message ?? '', /^timeZone: .*(not a time zone we know|Choose a time zone)/, timeZone);
  }
  assert.match(messages({ frequency: 'daily', hour: 2, minute: 0, timeZone: 'Mars/Olympus' })[0]!, /"Mars\/Olympus"/);
});

test('fixes the case of a zone name but keeps an alias as the customer picked it', () => {
  assert.equal(
    scheduleSchema.parse({ frequency: 'hourly', minute: 0, timeZone: ' america/new_york ' }).timeZone,
    'America/New_York',
  );
  assert.equal(
    scheduleSchema.parse({ frequency: 'hourly', minute: 0, timeZone: 'Asia/Kolkata' }).timeZone,
    'Asia/Kolkata',
  );
});

test('refuses hours and minutes out of range or not whole', () => {
  assert.deepEqual(messages({ frequency: 'daily', hour: 24, minute: -1, timeZone: 'UTC' }), [
    'hour: Choose the hour of the day, from 0 (midnight) to 23.',
    'minute: Choose the minute past the hour, from 0 to 59.',
  ]);
  assert.deepEqual(messages({ frequency: 'daily', hour: 1.5, minute: '5', timeZone: 'UTC' }), [
    'hour: Choose the hour of the day, from 0 (midnight) to 23.',
    'minute: Choose the minute past the hour, from 0 to 59.',
  ]);
  assert.deepEqual(messages({ frequency: 'daily', minute: 5, timeZone: 'UTC' }), [
    'hour: Choose the hour of the day, from 0 (midnight) to 23.',
  ]);
});

test('refuses a frequency that does not exist', () => {
  assert.deepEqual(messages({ frequency: 'weekly', minute: 0, timeZone: 'UTC' }), [
    'frequency: Choose daily or hourly backups.',
  ]);
});

test('refuses hourly backups on a plan that only offers daily, naming the plans that do', () => {
  assert.deepEqual(messages({ frequency: 'hourly', minute: 0, timeZone: 'UTC' }, scheduleSchemaFor(PLANS.basic)), [
    'frequency: Hourly backups are not part of the Basic plan. Choose daily backups, or change to the Standard or Premium plan.',
  ]);
  assert.deepEqual(
    messages({ frequency: 'hourly', minute: 0, timeZone: 'UTC' }, scheduleSchemaFor(PLANS.standard)),
    [],
  );
  assert.deepEqual(
    messages({ frequency: 'daily', hour: 3, minute: 0, timeZone: 'UTC' }, scheduleSchemaFor(PLANS.basic)),
    [],
  );
});

test('offers UTC first and only zones that the schema and pg-boss both accept', () => {
  assert.equal(TIME_ZONE_CHOICES[0], 'UTC');
  assert.ok(TIME_ZONE_CHOICES.length > 300);
  assert.equal(new Set(TIME_ZONE_CHOICES).size, TIME_ZONE_CHOICES.length);
  for (const timeZone of TIME_ZONE_CHOICES) {
    assert.equal(scheduleSchema.parse({ frequency: 'hourly', minute: 0, timeZone }).timeZone, timeZone);
    assert.doesNotThrow(() => assertTimezone(timeZone), timeZone);
  }
  assert.doesNotThrow(() => assertTimezone('Asia/Kolkata'));
});
