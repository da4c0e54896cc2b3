// How the dashboard writes numbers, sizes and durations; passed to every view as `fmt`.

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB'];

/** 1234567 → "1.2 MB" (decimal units, as disk and network people count). */
export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—';
  let v = value;
  let unit = 0;
  while (v >= 1000 && unit < UNITS.length - 1) {
    v /= 1000;
    unit++;
  }
  return `${unit === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${UNITS[unit]}`;
}

/** 3725 → "1 h 2 min"; 42 → "42 s". */
export function duration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '—';
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`;
  return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}

/** Bytes per second → "12.3 MB/s". */
export function rate(bytesPerSecond: number | null | undefined): string {
  return bytesPerSecond === null || bytesPerSecond === undefined ? '—' : `${bytes(bytesPerSecond)}/s`;
}

/** A UTC timestamp the page's script rewrites into the viewer's own time zone. */
export function utc(date: Date | null | undefined): string {
  return date ? `${date.toISOString().replace('T', ' ').slice(0, 16)} UTC` : '—';
}

/** Seconds between two moments, or from `from` until now. */
export function secondsBetween(from: Date | null, to: Date | null = null): number | null {
  return from ? ((to ?? new Date()).getTime() - from.getTime()) / 1000 : null;
}

export const fmt = { bytes, duration, rate, utc, secondsBetween };
