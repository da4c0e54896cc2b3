import type { VerboseEvent } from './stderr-lines.ts';

/** A progress report, delivered about once a second while pg_dump runs and once at the end. */
export interface DumpProgress {
  /** Archive bytes handed to the consumer so far (after our zstd in the wrapped `fast` format). */
  bytesOut: number;
  /** Bytes pg_dump wrote. */
  rawBytes: number;
  /** Archive bytes per second over the last `windowMs`. */
  bytesPerSecond: number;
  /** Estimated database bytes dumped per second over the last `windowMs`. */
  sourceBytesPerSecond: number;
  elapsedMs: number;
  /** `schema.table` pg_dump is copying, `large objects`, or null before the data phase. */
  currentTable: string | null;
  /** Tables whose data copy has started. */
  tablesStarted: number;
  /** Heap + TOAST of the dumped tables plus large objects: the size estimate progress is measured against. */
  sourceBytes: number;
  /** How much of `sourceBytes` is estimated done. */
  sourceBytesDone: number;
  /** 0..1, or null when the size estimate is zero. */
  fractionDone: number | null;
  /** Seconds left at the recent rate, or null until there is a rate to go by. */
  etaSeconds: number | null;
}

/** Sizes from the probe that progress is estimated against. */
export interface ProgressSizes {
  tableBytes: number;
  largeObjectBytes: number;
  tableSizes: ReadonlyMap<string, number>;
}

// Source bytes (heap + TOAST) per byte pg_dump writes, from performance.md B3 (2 524 MB of heap, TOAST
// and large objects): -Z1 wrote 805 MB, -Z0 2 356 MB, zstd-1 693 MB. Replaced by the measured ratio
// once enough tables have finished.
const PRIOR_RATIO: Record<string, number> = { '0': 1.07, '1': 3.1, '2': 3.2, 'zstd:1': 3.6, 'zstd:2': 3.9 };
const LEARN_AFTER_BYTES = 16 * 1024 * 1024;
// Tables under 1 MiB are not sized by the probe; each counts for what it wrote, up to this much.
const SMALL_TABLE_CAP = 1024 * 1024;
const LARGE_OBJECTS = 'large objects';

interface Section {
  name: string;
  size: number | undefined;
  rawAtStart: number;
}

/**
 * Turns byte counts and pg_dump's "dumping contents of table" lines into a done fraction and an ETA:
 * finished tables count at their probed size, the table in flight at what it wrote so far times the
 * source/output ratio (capped below its size), and the rate is a moving window over those estimates.
 */
export class ProgressEstimator {
  readonly #sizes: ProgressSizes;
  readonly #priorRatio: number;
  readonly #windowMs: number;
  readonly #startedAt: number;
  #raw = 0;
  #out = 0;
  #section: Section | undefined;
  #completed = 0;
  #largeObjectsCredited = 0;
  #learnedSource = 0;
  #learnedRaw = 0;
  #tablesStarted = 0;
  #finished = false;
  #samples: Array<{ at: number; out: number; done: number }> = [];

  constructor(sizes: ProgressSizes, pgDumpCompression: string, options: { windowMs?: number; now?: number } = {}) {
    this.#sizes = sizes;
    this.#priorRatio = PRIOR_RATIO[pgDumpCompression] ?? 3;
    this.#windowMs = options.windowMs ?? 20_000;
    this.#startedAt = options.now ?? Date.now();
  }

  /** Bytes read from pg_dump's stdout. */
  addRaw(bytes: number): void {
    this.#raw += bytes;
  }

  /** Bytes handed to the consumer. */
  addOut(bytes: number): void {
    this.#out += bytes;
  }

  /** A `--verbose` line announced the next table (or the large objects). */
  startSection(event: VerboseEvent): void {
    // pg_dump 17+ announces large objects once per batch of 1,000: one budget covers all batches.
    if (event.kind !== 'table' && this.#section?.name === LARGE_OBJECTS) return;
    this.#closeSection();
    if (event.kind === 'table') {
      this.#tablesStarted += 1;
      this.#section = { name: event.table, size: this.#sizes.tableSizes.get(event.table), rawAtStart: this.#raw };
    } else {
      // Batches split by other entries share what is left of the budget.
      this.#section = {
        name: LARGE_OBJECTS,
        size: this.#sizes.largeObjectBytes - this.#largeObjectsCredited,
        rawAtStart: this.#raw,
      };
    }
  }

  /** pg_dump exited 0: everything is done. */
  finish(): void {
    this.#closeSection();
    this.#finished = true;
  }

  /** The table pg_dump is copying now. */
  get currentTable(): string | null {
    return this.#section?.name ?? null;
  }

  /** The current estimate; also records a rate sample. */
  snapshot(now: number = Date.now()): DumpProgress {
    const sourceBytes = this.#sizes.tableBytes + this.#sizes.largeObjectBytes;
    let done = this.#completed + this.#inFlight();
    done = this.#finished ? sourceBytes : Math.min(done, sourceBytes * 0.99);
    this.#samples.push({ at: now, out: this.#out, done });
    while (this.#samples.length > 2 && (this.#samples[1]?.at ?? now) <= now - this.#windowMs) this.#samples.shift();
    const oldest = this.#samples[0] ?? { at: now, out: this.#out, done };
    const seconds = (now - oldest.at) / 1000;
    const bytesPerSecond = seconds > 0 ? (this.#out - oldest.out) / seconds : 0;
    const sourceRate = seconds > 0 ? (done - oldest.done) / seconds : 0;
    const remaining = sourceBytes - done;
    const etaSeconds = this.#finished ? 0 : sourceRate > 0 && seconds >= 2 ? Math.round(remaining / sourceRate) : null;
    return {
      bytesOut: this.#out,
      rawBytes: this.#raw,
      bytesPerSecond: Math.round(bytesPerSecond),
      sourceBytesPerSecond: Math.round(sourceRate),
      elapsedMs: now - this.#startedAt,
      currentTable: this.currentTable,
      tablesStarted: this.#tablesStarted,
      sourceBytes,
      sourceBytesDone: Math.round(done),
      fractionDone: sourceBytes > 0 ? done / sourceBytes : null,
      etaSeconds,
    };
  }

  #ratio(): number {
    return this.#learnedSource >= LEARN_AFTER_BYTES && this.#learnedRaw > 0
      ? this.#learnedSource / this.#learnedRaw
      : this.#priorRatio;
  }

  #inFlight(): number {
    const section = this.#section;
    if (!section) return 0;
    const estimate = (this.#raw - section.rawAtStart) * this.#ratio();
    return section.size === undefined ? Math.min(estimate, SMALL_TABLE_CAP) : Math.min(estimate, section.size * 0.95);
  }

  #closeSection(): void {
    const section = this.#section;
    if (!section) return;
    const written = this.#raw - section.rawAtStart;
    if (section.size === undefined) {
      this.#completed += Math.min(written * this.#ratio(), SMALL_TABLE_CAP);
    } else {
      this.#completed += section.size;
      if (section.name === LARGE_OBJECTS) {
        this.#largeObjectsCredited += section.size;
      } else {
        this.#learnedSource += section.size;
        this.#learnedRaw += written;
      }
    }
    this.#section = undefined;
  }
}
