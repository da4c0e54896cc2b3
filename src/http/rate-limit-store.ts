import type { ClientRateLimitInfo, Options, Store } from 'express-rate-limit';
import type { Queryable } from '../db/pool.ts';

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
    const result = await this.#db.query<{ hits: number; reset_at: Date }>(
      'select hits, reset_at from rate_limit_hits where key = $1 and reset_at > now()', [this.prefix + key]);
    const row = result.rows[0];
    return row && { totalHits: row.hits, resetTime: row.reset_at };
  }

  async increment(key: string): Promise<ClientRateLimitInfo> {
    this.#sweep();
    const result = await this.#db.query<{ hits: number; reset_at: Date }>(
      `insert into rate_limit_hits (key, hits, reset_at) values ($1, 1, now() + make_interval(secs => $2))
       on conflict (key) do update set
         hits = case when rate_limit_hits.reset_at <= now() then 1 else rate_limit_hits.hits + 1 end,
         reset_at = case when rate_limit_hits.reset_at <= now() then excluded.reset_at else rate_limit_hits.reset_at end
       returning hits, reset_at`,
      [this.prefix + key, this.#windowMs / 1000]);
    const row = result.rows[0]!;
    return { totalHits: row.hits, resetTime: row.reset_at };
  }

  async decrement(key: string): Promise<void> {
    await this.#db.query('update rate_limit_hits set hits = hits - 1 where key = $1 and reset_at > now() and hits > 0', [this.prefix + key]);
  }

  async resetKey(key: string): Promise<void> {
    await this.#db.query('delete from rate_limit_hits where key = $1', [this.prefix + key]);
  }

  /** Drops this store's ended windows, at most once a minute per process, without holding up the request. */
  #sweep(): void {
    const now = Date.now();
    if (now - this.#lastSweep < SWEEP_EVERY_MS) return;
    this.#lastSweep = now;
    this.#db.query('delete from rate_limit_hits where key like $1 and reset_at <= now()', [`${this.prefix.replace(/[\\%_]/g, '\\$&')}%`])
      .catch(() => { /* the next sweep tries again */ });
  }
}
