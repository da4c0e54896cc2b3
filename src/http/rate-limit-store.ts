import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Queryable } from '../db/pool.ts';
import {
  countHit,
  deleteEndedWindows,
  deleteWindow,
  findOpenWindow,
  uncountHit,
} from '../rate-limits/rate-limit-hits.repo.ts';

/** How often one process sweeps windows that ended; counts themselves never depend on it. */
const SWEEP_EVERY_MS = 60_000;

/**
 * express-rate-limit's counts in PostgreSQL (table rate_limit_hits), so that a limit of N a minute
 * holds across every web process instead of being N per dyno. A fixed window per key, judged by the
 * database clock: the first hit opens it, later hits count until it ends, and the next hit after
 * that opens a new one. One upsert per request.
 */
export class PgRateLimitStore implements Store {
  readonly localKeys = false;
  readonly prefix: string;
  #windowMs = 60_000;
  #lastSweep = 0;
  readonly #db: Queryable;

  constructor(db: Queryable, prefix: string) {
    this.#db = db;
    this.prefix = prefix;
  }

  init(options: Options): void {
    this.#windowMs = options.windowMs;
  }

  async get(key: string): Promise<ClientRateLimitInfo | undefined> {
    const window = await findOpenWindow(this.#db, this.prefix + key);
    return window && { totalHits: window.hits, resetTime: window.resetAt };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    this.#sweep();
    const window = await countHit(this.#db, this.prefix + key, this.#windowMs / 1000);
    return { totalHits: window.hits, resetTime: window.resetAt };
  }

  async decrement(key: string): Promise<void> {
    await uncountHit(this.#db, this.prefix + key);
  }

  async resetKey(key: string): Promise<void> {
    await deleteWindow(this.#db, this.prefix + key);
  }

  /** Drops this store's ended windows, at most once a minute per process, without holding up the request. */
  #sweep(): void {
    const now = Date.now();
    if (now - this.#lastSweep < SWEEP_EVERY_MS) return;
    this.#lastSweep = now;
    deleteEndedWindows(this.#db, this.prefix).catch(() => {
      /* the next sweep tries again */
    });
  }
}
