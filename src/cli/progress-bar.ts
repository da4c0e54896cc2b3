import type { DumpProgress } from '../engine/index.ts';

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'] as const;

/** `1.23 GiB`, `512 B`. */
export function formatBytes(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${UNITS[unit]}`;
}

/** `45s`, `3m12s`, `2h05m`. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** What a bar or a progress line shows: the dump's progress, or the read-back's while verifying. */
export interface ProgressState {
  /** `dumped` while pg_dump runs, `verified` while the archive is read back. */
  verb: 'dumped' | 'verified';
  bytes: number;
  bytesPerSecond: number;
  /** 0..1, or null when there is nothing to measure against. */
  fraction: number | null;
  etaSeconds: number | null;
  /** The table pg_dump is copying, if any. */
  table: string | null;
}

/** The state of a dump, from the engine's progress report. */
export function dumpState(progress: DumpProgress): ProgressState {
  return {
    verb: 'dumped',
    bytes: progress.bytesOut,
    bytesPerSecond: progress.bytesPerSecond,
    fraction: progress.fractionDone,
    etaSeconds: progress.etaSeconds,
    table: progress.currentTable,
  };
}

function figures(state: ProgressState): { percent: string; bytes: string; rate: string; eta: string } {
  return {
    percent: state.fraction === null ? '  ?%' : `${String(Math.floor(Math.min(1, state.fraction) * 100)).padStart(3)}%`,
    bytes: formatBytes(state.bytes),
    rate: `${formatBytes(Math.round(state.bytesPerSecond))}/s`,
    eta: state.etaSeconds === null ? 'ETA --' : `ETA ${formatDuration(state.etaSeconds)}`,
  };
}

/**
 * One terminal line: `[#########.........]  42% 1.21 GiB 35.4 MiB/s ETA 3m12s public.orders`, cut to
 * `width` columns (the bar shrinks first, then the table name is cut).
 */
export function renderBar(state: ProgressState, width: number): string {
  const f = figures(state);
  const numbers = `${f.percent} ${f.bytes} ${f.rate} ${f.eta}`;
  const label = state.verb === 'verified' ? 'verifying' : (state.table ?? '');
  const room = width - 1; // writing the last column makes some terminals wrap
  const barWidth = Math.max(0, Math.min(30, room - numbers.length - 3 - (label ? Math.min(label.length, 24) + 1 : 0)));
  const filled = Math.round(barWidth * Math.min(1, state.fraction ?? 0));
  const bar = barWidth >= 5 ? `[${'#'.repeat(filled)}${'.'.repeat(barWidth - filled)}] ` : '';
  const line = `${bar}${numbers}${label ? ' ' + label : ''}`;
  return line.length <= room ? line : line.slice(0, Math.max(0, room - 1)) + '…';
}

/** A plain log line for a non-terminal: `dumped 1.21 GiB (42%), 35.4 MiB/s, ETA 3m12s, table public.orders`. */
export function renderLine(state: ProgressState): string {
  const f = figures(state);
  const percent = state.fraction === null ? '' : ` (${f.percent.trim()})`;
  const table = state.table ? `, table ${state.table}` : '';
  return `${state.verb} ${f.bytes}${percent}, ${f.rate}, ${f.eta}${table}`;
}
