/** Medians, ratios, verdicts and the printed tables. */
import type { BuiltDatabase } from './generate.ts';
import { DESCRIPTIONS, ENGINE_VARIANTS, isEngineVariant, MiB, type Variant } from './options.ts';
import type { Sample } from './runners.ts';

export interface VariantResult {
  variant: Variant;
  samples: Sample[];
  /** Set when a run of this variant failed; its other samples still count. */
  errors: string[];
}

export interface SizeResult {
  db: BuiltDatabase;
  variants: VariantResult[];
  /** The S3 store's part size for this database's estimate, and its queue size. */
  partSize: number;
  queueSize: number;
}

/** Targets from issue 3; `null` where a variant has none. */
interface Target {
  speed: number;
  size: number;
}
const TARGETS: Partial<Record<Variant, Target>> = {
  'default-s3': { speed: 2.0, size: 1.1 },
  'default-file': { speed: 2.0, size: 1.1 },
  'fast-s3': { speed: 2.5, size: 0.95 },
  'fast-file': { speed: 2.5, size: 0.95 },
  // Issue 14: the default format to disk with 2 pieces at a time, against plain pg_dump -Fc.
  'sharded2-file': { speed: 2.6, size: 1.12 },
};
/** What performance.md measured for the shell references (× speed, × size vs plain -Fc), to compare with. */
const DOCUMENTED: Partial<Record<Variant, string>> = {
  'shell-z1': 'doc: 2.09×, 1.08×',
  'shell-zstd': 'doc: 2.60×, 0.93×',
  'ceiling': 'doc: 3.34×',
};
export const NODE_BASELINE_BYTES = 80 * MiB;

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** The memory budget of issue 3 / performance.md C3: 80 MB + part size × (queue size + 2). */
export function rssBudget(partSize: number, queueSize: number): number {
  return NODE_BASELINE_BYTES + partSize * (queueSize + 2);
}

interface Row {
  variant: Variant;
  n: number;
  seconds: number;
  min: number;
  max: number;
  bytes: number;
  speedRatio: number;
  sizeRatio: number;
  plan?: number;
  stored?: number;
  verify?: number;
  cpu?: number;
  storedCpu?: number;
  storedRatio?: number;
  heap?: number;
  external?: number;
  startRss?: number;
  storedRss?: number;
  rss?: number;
  budget?: number;
  errors: string[];
}

/** The median of one measure of plain pg_dump's runs at this size; NaN (printed as –) without any. */
function plainMedian(size: SizeResult, pick: (s: Sample) => number): number {
  const base = size.variants.find((v) => v.variant === 'plain');
  return base && base.samples.length > 0 ? median(base.samples.map(pick)) : NaN;
}

function summarize(size: SizeResult): { rows: Row[]; plain: Row | undefined } {
  const budget = rssBudget(size.partSize, size.queueSize);
  const plainSeconds = plainMedian(size, (s) => s.seconds);
  const plainBytes = plainMedian(size, (s) => s.bytes);
  const rows: Row[] = [];
  for (const v of size.variants) {
    if (v.samples.length === 0) {
      rows.push({
        variant: v.variant,
        n: 0,
        seconds: NaN,
        min: NaN,
        max: NaN,
        bytes: NaN,
        speedRatio: NaN,
        sizeRatio: NaN,
        errors: v.errors,
      });
      continue;
    }
    const seconds = v.samples.map((s) => s.seconds);
    const bytes = median(v.samples.map((s) => s.bytes));
    const rss = v.samples.map((s) => s.peakRssKiB).filter((x): x is number => x !== undefined);
    const engine = v.samples.map((s) => s.engine).filter((e) => e !== undefined);
    rows.push({
      variant: v.variant,
      n: v.samples.length,
      seconds: median(seconds),
      min: Math.min(...seconds),
      max: Math.max(...seconds),
      bytes,
      speedRatio: plainSeconds / median(seconds),
      sizeRatio: bytes / plainBytes,
      ...(engine.length > 0
        ? {
            plan: median(engine.map((e) => e.planSeconds)),
            stored: median(engine.map((e) => e.storedSeconds)),
            verify: median(engine.map((e) => e.verifySeconds)),
            cpu: median(engine.map((e) => e.cpuSeconds)),
            storedCpu: median(engine.map((e) => e.storedCpuSeconds)),
            storedRatio: plainSeconds / median(engine.map((e) => e.storedSeconds)),
            heap: Math.max(...engine.map((e) => e.sampled.heapUsed)),
            external: Math.max(...engine.map((e) => e.sampled.external)),
            startRss: median(engine.map((e) => e.startRssKiB)) * 1024,
            storedRss: Math.max(...engine.map((e) => e.storedPeakRssKiB)) * 1024,
          }
        : {}),
      // Peak RSS: the highest of the rounds (a budget is about the worst case, not the typical one).
      ...(rss.length > 0 ? { rss: Math.max(...rss) * 1024 } : {}),
      ...(isEngineVariant(v.variant) ? { budget } : {}),
      errors: v.errors,
    });
  }
  return { rows, plain: rows.find((r) => r.variant === 'plain') };
}

const mb = (bytes: number | undefined, digits = 1): string =>
  bytes === undefined || Number.isNaN(bytes) ? '–' : (bytes / MiB).toFixed(digits);
const num = (x: number | undefined, digits: number): string =>
  x === undefined || Number.isNaN(x) ? '–' : x.toFixed(digits);
const verdict = (ok: boolean | undefined, label: string): string =>
  ok === undefined ? '' : `${ok ? 'PASS' : 'MISS'} ${label}`;

function table(headers: string[], rows: string[][], rightAligned: Set<number>): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (rightAligned.has(i) ? c.padStart(widths[i]!) : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(headers), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

export function describeDb(db: BuiltDatabase, reused: boolean): string {
  const tables = db.tables
    .map((t) => `${t.name} ${mb(t.bytes, 0)} MB (${t.rows.toLocaleString('en-US')} rows)`)
    .join(', ');
  return (
    `database ${db.name}: ${mb(db.bytes, 0)} MB (target ${mb(db.targetBytes, 0)} MB), ${db.userTables} user tables — ${tables}; ` +
    `${db.largeObjects} large objects ${mb(db.largeObjectBytes, 0)} MB; ` +
    (reused ? 'reused from the data folder' : `built in ${db.buildSeconds.toFixed(0)} s`)
  );
}

/** The main table for one database size. */
export function sizeTable(size: SizeResult): string {
  const { rows } = summarize(size);
  const headers = [
    'variant',
    'what',
    'n',
    's (median)',
    'min–max s',
    'src MB/s',
    'archive MB',
    '× speed',
    '× size',
    'plan s',
    'dump+store s',
    'verify s',
    '× w/o verify',
    'worker CPU s (store+verify)',
    'peak RSS MB',
    'budget MB',
    'speed target',
    'size target',
    'RSS target',
    'note',
  ];
  const body = rows.map((r) => {
    const target = TARGETS[r.variant];
    const speedOk = target && r.n > 0 ? r.speedRatio >= target.speed : undefined;
    const sizeOk = target && r.n > 0 ? r.sizeRatio <= target.size : undefined;
    const rssOk = r.budget !== undefined && r.rss !== undefined ? r.rss <= r.budget : undefined;
    const rssText =
      r.rss === undefined
        ? '–'
        : r.variant === 'plain' || r.variant === 'shell-z1' || r.variant === 'ceiling'
          ? `${mb(r.rss, 0)} (pg_dump)`
          : mb(r.rss, 0);
    const notes = [DOCUMENTED[r.variant] ?? '', ...(r.errors.length > 0 ? [`${r.errors.length} run(s) FAILED`] : [])]
      .filter(Boolean)
      .join('; ');
    return [
      r.variant,
      DESCRIPTIONS[r.variant],
      String(r.n),
      num(r.seconds, 2),
      r.n > 0 ? `${r.min.toFixed(2)}–${r.max.toFixed(2)}` : '–',
      num(size.db.bytes / MiB / r.seconds, 0),
      r.variant === 'ceiling' ? '–' : mb(r.bytes),
      r.variant === 'plain' ? '1.00' : num(r.speedRatio, 2),
      r.variant === 'ceiling' ? '–' : num(r.sizeRatio, 3),
      num(r.plan, 2),
      num(r.stored, 2),
      num(r.verify, 2),
      num(r.storedRatio, 2),
      r.cpu === undefined ? '–' : `${num(r.storedCpu, 1)}+${num(r.cpu - (r.storedCpu ?? 0), 1)}`,
      rssText,
      r.budget === undefined ? '' : mb(r.budget, 0),
      verdict(speedOk, `≥${target?.speed.toFixed(1)}×`),
      verdict(sizeOk, `≤${target?.size.toFixed(2)}×`),
      verdict(rssOk, '≤budget'),
      notes,
    ];
  });
  return table(headers, body, new Set([2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]));
}

/**
 * Peak RSS of each engine variant at every size against the budget: the "flat as the database grows"
 * target. Start = after loading the engine; store = peak until every byte was stored; peak = including
 * verification.
 */
export function memoryTable(sizes: SizeResult[]): string {
  const headers = [
    'variant',
    'DB MB',
    'part MiB',
    'queue',
    'RSS start MB',
    'RSS peak dump+store MB',
    'RSS peak MB',
    'budget MB',
    'verdict',
    'growth vs smallest DB',
    'max JS heap MB',
    'max external MB',
  ];
  const body: string[][] = [];
  for (const variant of ENGINE_VARIANTS) {
    let first: number | undefined;
    for (const size of sizes) {
      const row = summarize(size).rows.find((r) => r.variant === variant);
      if (!row || row.rss === undefined) continue;
      first ??= row.rss;
      const ok = row.budget !== undefined && row.rss <= row.budget;
      body.push([
        variant,
        mb(size.db.bytes, 0),
        String(size.partSize / MiB),
        String(size.queueSize),
        mb(row.startRss, 0),
        mb(row.storedRss, 0),
        mb(row.rss, 0),
        mb(row.budget, 0),
        `${ok ? 'PASS' : 'MISS'} ≤budget`,
        sizes.length < 2 ? 'one size only' : `${row.rss - first >= 0 ? '+' : ''}${mb(row.rss - first, 0)} MB`,
        mb(row.heap, 0),
        mb(row.external, 0),
      ]);
    }
  }
  return table(headers, body, new Set([1, 2, 3, 4, 5, 6, 7, 10, 11]));
}

/** How compressible the data is: the uncompressed archive (the fast format's raw bytes) ÷ plain -Fc. */
export function compressibility(size: SizeResult): string | undefined {
  const raw = size.variants
    .flatMap((v) => v.samples)
    .map((s) => s.engine)
    .find((e) => e?.wrapper === 'zstd')?.rawBytes;
  const plain = size.variants.find((v) => v.variant === 'plain')?.samples.map((s) => s.bytes);
  if (raw === undefined || !plain || plain.length === 0) return undefined;
  return `uncompressed (-Z0) archive ${mb(raw, 0)} MB, ${(raw / median(plain)).toFixed(2)}:1 under plain -Fc (performance.md's data: 3.16:1)`;
}

/** One line per target of issue 3, over all sizes. */
export function targetSummary(sizes: SizeResult[]): string[] {
  const lines: string[] = [];
  for (const format of ['default', 'fast'] as const) {
    const target = TARGETS[`${format}-s3`]!;
    const parts: string[] = [];
    let allOk = true;
    for (const size of sizes) {
      for (const row of summarize(size).rows) {
        if (!row.variant.startsWith(`${format}-`) || row.n === 0) continue;
        const ok = row.speedRatio >= target.speed && row.sizeRatio <= target.size;
        allOk &&= ok;
        parts.push(
          `${row.variant.replace(`${format}-`, '→')}@${mb(size.db.bytes, 0)}MB ${row.speedRatio.toFixed(2)}×/${row.sizeRatio.toFixed(3)}×`,
        );
      }
    }
    if (parts.length > 0)
      lines.push(
        `${allOk ? 'PASS' : 'MISS'}  ${format}: speed ≥ ${target.speed}× and archive ≤ ${target.size}× of plain pg_dump -Fc — ${parts.join(', ')}`,
      );
  }
  const sharded = TARGETS['sharded2-file']!;
  for (const size of sizes) {
    const row = summarize(size).rows.find((r) => r.variant === 'sharded2-file' && r.n > 0);
    if (!row) continue;
    const ok = row.speedRatio >= sharded.speed && row.sizeRatio <= sharded.size;
    lines.push(
      `${ok ? 'PASS' : 'MISS'}  sharded (issue 14): 2 pieces at a time to disk, speed ≥ ${sharded.speed}× and archive ≤ ${sharded.size}× of plain pg_dump -Fc — @${mb(size.db.bytes, 0)}MB ${row.speedRatio.toFixed(2)}×/${row.sizeRatio.toFixed(3)}×`,
    );
  }
  const memory: string[] = [];
  let memoryOk = true;
  for (const size of sizes) {
    for (const row of summarize(size).rows) {
      if (row.budget === undefined || row.rss === undefined) continue;
      memoryOk &&= row.rss <= row.budget;
      memory.push(`${row.variant}@${mb(size.db.bytes, 0)}MB ${mb(row.rss, 0)}/${mb(row.budget, 0)}`);
    }
  }
  if (memory.length > 0) {
    lines.push(
      `${memoryOk ? 'PASS' : 'MISS'}  memory: worker peak RSS ≤ 80 MB + part × (queue + 2), MB — ${memory.join(', ')}` +
        (sizes.length < 2 ? ' (one size only)' : ''),
    );
  }
  return lines;
}

/**
 * CPU seconds by process for one database size: the Node worker, pg_dump and pg_restore (or the shell
 * pipe's pg_dump and zstd), the server backends and the S3-protocol server, against the wall time.
 * "cores busy" = total ÷ wall. A run needing C CPU-seconds on N cores cannot finish in under C ÷ N
 * seconds however well it is scheduled, so plain's seconds ÷ (C ÷ N) is the highest × speed the
 * variant could reach on this machine; when that is below a target, only spending less CPU can reach
 * it. The column without the S3 server is the same bound with the store's CPU taken off these cores,
 * as it is with a real S3.
 */
export function cpuTable(size: SizeResult, cores: number): string {
  const headers = [
    'variant',
    's (median)',
    'Node worker',
    'pg_dump/pg_restore/zstd',
    'server backend',
    'S3 server',
    'total CPU s',
    'cores busy',
    `total ÷ ${cores}`,
    'best × for this CPU',
    'best × w/o S3 server',
  ];
  const plainSeconds = plainMedian(size, (s) => s.seconds);
  const body: string[][] = [];
  for (const v of size.variants) {
    const samples = v.samples.filter((s) => s.cpu !== undefined);
    if (samples.length === 0) continue;
    const pick = (f: (s: Sample) => number | undefined): number | undefined => {
      const values = samples.map(f).filter((x): x is number => x !== undefined);
      return values.length === 0 ? undefined : median(values);
    };
    const wall = median(samples.map((s) => s.seconds));
    const worker = pick((s) => s.cpu!.worker);
    const tools = pick((s) => s.cpu!.tools);
    const server = pick((s) => s.cpu!.server);
    const s3 = v.variant.endsWith('-s3') ? pick((s) => s.cpu!.s3) : undefined;
    const total = (worker ?? 0) + (tools ?? 0) + (server ?? 0) + (s3 ?? 0);
    const best = (cpu: number) => (v.variant === 'plain' ? undefined : plainSeconds / (cpu / cores));
    body.push([
      v.variant,
      num(wall, 2),
      num(worker, 1),
      num(tools, 1),
      num(server, 1),
      num(s3, 1),
      num(total, 1),
      num(total / wall, 2),
      num(total / cores, 1),
      num(best(total), 2),
      num(s3 === undefined ? undefined : best(total - s3), 2),
    ]);
  }
  return table(headers, body, new Set([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]));
}
