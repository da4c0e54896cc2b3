/** Which simulated host a fault applies to. */
export type FaultTarget = 'api' | 'oauth';

interface PendingFailure {
  remaining: number;
  status: number;
  retryAfterSeconds: number | null;
}

/** What happens to `heroku-postgresql` forks created while a fork fault is set. */
export type ForkFault = 'never-ready' | 'vanish' | 'unreachable';

/** Knobs that make the next requests fail the way Heroku sometimes does. */
export class SimFaults {
  #pending: Record<FaultTarget, PendingFailure[]> = { api: [], oauth: [] };
  /** Applies to every fork created from when it is set until reset(). */
  forkFault: ForkFault | null = null;
  /** The next fork is created, but its create request answers 503 as if the reply was lost. */
  loseNextForkReply = false;

  /** The next `count` requests to /oauth/token answer `status` (5xx) without touching codes or tokens. */
  failNextTokenRequests(count: number, status = 503): void {
    this.#pending.oauth.push({ remaining: count, status, retryAfterSeconds: null });
  }

  /** The next `count` requests to the target answer 429 with `Retry-After`. */
  rateLimitNext(count: number, retryAfterSeconds = 1, target: FaultTarget = 'api'): void {
    this.#pending[target].push({ remaining: count, status: 429, retryAfterSeconds });
  }

  /** Drops every pending fault and the fork fault. */
  reset(): void {
    this.#pending = { api: [], oauth: [] };
    this.forkFault = null;
    this.loseNextForkReply = false;
  }

  /** Consumes one pending failure for the target, if any. */
  take(target: FaultTarget): { status: number; retryAfterSeconds: number | null } | null {
    const queue = this.#pending[target];
    const head = queue[0];
    if (!head) return null;
    head.remaining -= 1;
    if (head.remaining <= 0) queue.shift();
    return { status: head.status, retryAfterSeconds: head.retryAfterSeconds };
  }
}
