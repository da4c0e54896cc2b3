/**
 * A resource's backup schedule and the arithmetic of its slots: one slot per local day (daily) or
 * per local hour (hourly), in the resource's own IANA time zone. Pure; pg-boss is wired elsewhere.
 *
 * What pg-boss 12.38 actually does across DST (node_modules/pg-boss/dist/timekeeper.js,
 * `Timekeeper.readOccurrences`): every pass (30 s) asks cron-parser for `prev()` from "now" and
 * sends the occurrence if it falls in the last 60 s. cron-parser's backward walk has no DST
 * handling (only its forward walk, `CronExpression#matchHour`, maps a skipped hour to the landing
 * hour and skips a repeated one), so for `30 2 * * *`:
 *   - spring forward (02:30 does not exist): nothing is sent that day at all;
 *   - fall back (01:30 happens twice for `30 1 * * *`): it is sent twice, an hour apart.
 * `previewSchedule()` walks forward and so disagrees: it lists 03:30 on the spring day and one
 * 01:30 on the fall day. RRULE schedules (rrule-temporal) also skip the gap, but fire once in the
 * overlap. After Lord Howe Island's half-hour change, prev() throws "loop limit exceeded" for up
 * to a day (a plain `15 2 * * *`); the pass warns `invalid_schedule` and skips that schedule until
 * it recovers. test/unit/schedule.test.ts replays the real pass to pin all of this.
 *
 * So a daily schedule fires at its hour *and the hour after* (`cronFor`), and every fire is mapped
 * to the slot it belongs to (`slotKey`): the latest slot at or before it. The second fire of a
 * normal day, the repeated hour of a fall-back day, and a second worker all land on the same key;
 * on a spring-forward day the hour-after fire is the only one, and it fills that day's slot. The
 * key must be stored durably (backups.slot_key is unique): the duplicates come an hour apart,
 * long after pg-boss's own 60-second throttle has forgotten the first.
 */
import { z } from 'zod';
import { PLANS, type Plan } from '../resources/plans.ts';
import { instantsAt, isTimeZone, localTime, periodKey, shiftLocal, type LocalTime } from './zoned-time.ts';

const minuteError = 'Choose the minute past the hour, from 0 to 59.';
const hourError = 'Choose the hour of the day, from 0 (midnight) to 23.';

const timeZone = z
  .string({ error: 'Choose a time zone.' })
  .trim()
  .refine(isTimeZone, {
    error: (issue) =>
      `"${String(issue.input)}" is not a time zone we know; choose one from the list, such as America/New_York or UTC.`,
  })
  // Fix the case of a name Intl matched case-insensitively, but keep an alias as typed: Intl would
  // turn Asia/Kolkata into Asia/Calcutta, which is not what the customer picked.
  .transform((name) => {
    const resolved = new Intl.DateTimeFormat('en-US', { timeZone: name }).resolvedOptions().timeZone;
    return resolved.toLowerCase() === name.toLowerCase() ? resolved : name;
  });

/** A schedule as stored and as the dashboard submits it; `hour` is dropped from an hourly one. */
export const scheduleSchema = z.discriminatedUnion(
  'frequency',
  [
    z.object({
      frequency: z.literal('daily'),
      hour: z.int({ error: hourError }).min(0, { error: hourError }).max(23, { error: hourError }),
      minute: z.int({ error: minuteError }).min(0, { error: minuteError }).max(59, { error: minuteError }),
      timeZone,
    }),
    z.object({
      frequency: z.literal('hourly'),
      minute: z.int({ error: minuteError }).min(0, { error: minuteError }).max(59, { error: minuteError }),
      timeZone,
    }),
  ],
  { error: 'Choose daily or hourly backups.' },
);

/** A resource's backup schedule. */
export type Schedule = z.infer<typeof scheduleSchema>;

/** `scheduleSchema`, also refusing a frequency `plan` does not offer, with the plans that do. */
export function scheduleSchemaFor(plan: Plan) {
  return scheduleSchema.refine((schedule) => plan.scheduleFrequencies.includes(schedule.frequency), {
    path: ['frequency'],
    error: (issue) => {
      const frequency = (issue.input as Schedule).frequency;
      const offering = Object.values(PLANS)
        .filter((p) => p.scheduleFrequencies.includes(frequency))
        .map((p) => p.title);
      return (
        `${frequency === 'hourly' ? 'Hourly' : 'Daily'} backups are not part of the ${plan.title} plan. ` +
        `Choose ${plan.scheduleFrequencies.join(' or ')} backups${offering.length ? `, or change to the ${offering.join(' or ')} plan` : ''}.`
      );
    },
  });
}

/** Zones for the dashboard's picker: UTC first, then every IANA zone Intl knows, A–Z. */
export const TIME_ZONE_CHOICES: readonly string[] = [
  'UTC',
  ...Intl.supportedValuesOf('timeZone').filter((name) => name !== 'UTC'),
];

/**
 * The cron expression and zone to give pg-boss's `schedule()`. A daily one also fires an hour
 * later, so a slot in a spring-forward gap still runs (see the top of this file); `slotKey`
 * recognises the extra fire as the same slot.
 */
export function cronFor(schedule: Schedule): { cron: string; tz: string } {
  const cron =
    schedule.frequency === 'daily'
      ? `${schedule.minute} ${schedule.hour},${(schedule.hour + 1) % 24} * * *`
      : `${schedule.minute} * * * *`;
  return { cron, tz: schedule.timeZone };
}

// A fire stamped by a clock a little behind the database's must not fall back into the previous
// slot (and so be dropped as a duplicate of it). Far below the shortest time between two slots
// (30 minutes, for an hourly schedule across Lord Howe Island's half-hour DST change).
const EARLY_FIRE_TOLERANCE_MS = 5 * 60_000;

/**
 * The idempotency key of the slot a fire at `firedAt` fills: `<resourceId>:2026-03-08` (daily,
 * local date) or `<resourceId>:2026-03-08T02` (hourly, local date and hour). Pass when pg-boss
 * created the job, not when a worker got to it; any fire up to the next slot maps to this one.
 */
export function slotKey(resourceId: string, schedule: Schedule, firedAt: Date): string {
  const reference = firedAt.getTime() + EARLY_FIRE_TOLERANCE_MS;
  let period = periodOf(schedule, new Date(reference));
  // Back from the period the fire falls in: a daily slot pushed past midnight by a gap, or a
  // late fire, belongs to an earlier period. Two days or two hours back always reaches one.
  for (let step = 0; step < 48; step += 1, period = advance(schedule, period, -1)) {
    const at = slotAt(schedule, period);
    if (at && at.getTime() <= reference) return `${resourceId}:${periodKey(period, unit(schedule))}`;
  }
  throw new Error(`no ${schedule.frequency} slot in ${schedule.timeZone} before ${firedAt.toISOString()}`);
}

/**
 * The next `count` times a backup will start, strictly after `from`: one per local day (or per
 * local hour that exists), matching the first fire of each slot that pg-boss sends.
 */
export function nextRuns(schedule: Schedule, from: Date, count: number): Date[] {
  if (!Number.isInteger(count) || count < 0 || count > 1000)
    throw new RangeError('count must be an integer from 0 to 1000');
  const runs: Date[] = [];
  // One period early: the slot of the period before may have been pushed past `from`.
  let period = advance(schedule, periodOf(schedule, from), -1);
  while (runs.length < count) {
    const at = slotAt(schedule, period);
    if (at && at.getTime() > from.getTime()) runs.push(at);
    period = advance(schedule, period, 1);
  }
  return runs;
}

/**
 * When the slot of `period` (a local date, or date and hour) starts: the first instant the clocks
 * show the scheduled time. In a fall-back overlap that is the earlier of the two. A daily time
 * that does not exist moves to the same minute of the next hour, which is when pg-boss fires it;
 * an hourly one has no slot, as that local hour never happens.
 */
function slotAt(schedule: Schedule, period: LocalTime): Date | undefined {
  const at = { ...period, minute: schedule.minute };
  const [first] = instantsAt(at, schedule.timeZone);
  if (first || schedule.frequency === 'hourly') return first;
  return instantsAt(shiftLocal(at, 0, 1), schedule.timeZone)[0];
}

function periodOf(schedule: Schedule, instant: Date): LocalTime {
  const local = localTime(instant, schedule.timeZone);
  return schedule.frequency === 'daily' ? { ...local, hour: schedule.hour, minute: 0 } : { ...local, minute: 0 };
}

function advance(schedule: Schedule, period: LocalTime, by: number): LocalTime {
  return schedule.frequency === 'daily' ? shiftLocal(period, by) : shiftLocal(period, 0, by);
}

function unit(schedule: Schedule): 'day' | 'hour' {
  return schedule.frequency === 'daily' ? 'day' : 'hour';
}
