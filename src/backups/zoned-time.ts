/**
 * Wall-clock arithmetic in IANA time zones with nothing but Intl (Node ships full ICU), shared by
 * the schedule slots and the retention periods. Pure: no clock is read here.
 */

/** A local calendar date and time of day, as a clock on the wall in some zone shows it. */
export interface LocalTime {
  year: number;
  /** 1–12 */
  month: number;
  day: number;
  /** 0–23 */
  hour: number;
  minute: number;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

// One formatter per zone: building an Intl.DateTimeFormat costs far more than using one, and
// retention formats every backup of a resource.
function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone);
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, formatter);
  }
  return formatter;
}

/** True if Intl knows `name` as an IANA zone; UTC offsets such as "+05:30" are refused. */
export function isTimeZone(name: string): boolean {
  // Recent V8 accepts bare offsets as zones; cron-parser and a customer's mental model do not.
  if (!/^[A-Za-z]/.test(name)) return false;
  try {
    formatterFor(name);
    return true;
  } catch {
    return false;
  }
}

/** The local date and time `instant` shows in `timeZone` (seconds dropped). */
export function localTime(instant: Date, timeZone: string): LocalTime {
  const { year, month, day, hour, minute } = localParts(instant.getTime(), timeZone);
  return { year, month, day, hour, minute };
}

function localParts(epochMs: number, timeZone: string): LocalTime & { second: number } {
  const parts = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatterFor(timeZone).formatToParts(epochMs)) {
    if (part.type in parts) parts[part.type as keyof typeof parts] = Number(part.value);
  }
  return parts;
}

// The zone's offset from UTC at an instant, in ms; Intl only reports whole seconds.
function offsetAt(epochMs: number, timeZone: string): number {
  const p = localParts(epochMs, timeZone);
  const wholeSecond = Math.floor(epochMs / 1000) * 1000;
  return Date.UTC(p.year, p.month - 1, p.day, p.hour, p.minute, p.second) - wholeSecond;
}

/**
 * Every instant at which the clocks in `timeZone` show `local`, earliest first: none in a
 * spring-forward gap, two in a fall-back overlap, one otherwise.
 */
export function instantsAt(local: LocalTime, timeZone: string): Date[] {
  const asIfUtc = Date.UTC(local.year, local.month - 1, local.day, local.hour, local.minute);
  // A zone changes offset at most once within a day either side, so the offsets in force a day
  // before and a day after are the only candidates (plus the one at the guess, for safety).
  const offsets = new Set([-86_400_000, 0, 86_400_000].map((shift) => offsetAt(asIfUtc + shift, timeZone)));
  const found = new Set<number>();
  for (const offset of offsets) {
    const candidate = asIfUtc - offset;
    if (sameLocalTime(localTime(new Date(candidate), timeZone), local)) found.add(candidate);
  }
  return [...found].sort((a, b) => a - b).map((ms) => new Date(ms));
}

function sameLocalTime(a: LocalTime, b: LocalTime): boolean {
  return a.year === b.year && a.month === b.month && a.day === b.day && a.hour === b.hour && a.minute === b.minute;
}

/** `local` moved by whole calendar days and hours, normalised (Feb 28 + 1 day is Mar 1 or Feb 29). */
export function shiftLocal(local: LocalTime, days: number, hours = 0): LocalTime {
  const d = new Date(Date.UTC(local.year, local.month - 1, local.day + days, local.hour + hours, local.minute));
  return {
    year: d.getUTCFullYear(),
    month: d.getUTCMonth() + 1,
    day: d.getUTCDate(),
    hour: d.getUTCHours(),
    minute: d.getUTCMinutes(),
  };
}

/** The calendar periods a backup can be filed under. */
export type Period = 'hour' | 'day' | 'week' | 'month';

/**
 * A sortable name for the period `local` falls in: `2026-03-08T02` (hour), `2026-03-08` (day),
 * `2026-W10` (ISO week, Monday first, in its ISO week-year), `2026-03` (month).
 */
export function periodKey(local: LocalTime, period: Period): string {
  const date = `${local.year}-${pad(local.month)}-${pad(local.day)}`;
  switch (period) {
    case 'hour':
      return `${date}T${pad(local.hour)}`;
    case 'day':
      return date;
    case 'month':
      return `${local.year}-${pad(local.month)}`;
    case 'week': {
      const { year, week } = isoWeek(local);
      return `${year}-W${pad(week)}`;
    }
  }
}

// ISO 8601: the week belongs to the year of its Thursday.
function isoWeek(local: LocalTime): { year: number; week: number } {
  const day = new Date(Date.UTC(local.year, local.month - 1, local.day));
  const weekday = day.getUTCDay() || 7;
  day.setUTCDate(day.getUTCDate() + 4 - weekday);
  const yearStart = Date.UTC(day.getUTCFullYear(), 0, 1);
  return { year: day.getUTCFullYear(), week: Math.ceil(((day.getTime() - yearStart) / 86_400_000 + 1) / 7) };
}

function pad(n: number): string {
  return String(n).padStart(2, '0');
}
