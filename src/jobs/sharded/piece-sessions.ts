import type { PieceSession } from '../../engine/index.ts';

/** How long an idle session waits for its attempt's next piece on this worker before it is closed. */
const DEFAULT_IDLE_MS = 30_000;

interface Idle {
  session: PieceSession;
  timer: NodeJS.Timeout;
}

/**
 * The source sessions a worker process keeps between the pieces of one backup attempt. Opening one
 * means asking Heroku for the fork's URL (two Platform API calls with the customer's grant, which
 * allows some 4,500 an hour) and connecting: for a database of thousands of tables, once per piece
 * would exhaust the grant's rate limit before the backup ended. A piece takes an idle session of
 * its attempt if there is one, and gives it back when it succeeded; a session unused for `idleMs`
 * (the attempt ended, its fork is being destroyed) is closed.
 */
export class PieceSessionPool {
  readonly #idle = new Map<string, Set<Idle>>();
  readonly #idleMs: number;
  #closed = false;

  constructor(options: { idleMs?: number } = {}) {
    this.#idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  }

  /** The key of a backup attempt's sessions. */
  static keyOf(backupId: string, attempt: number): string {
    return `${backupId}/${attempt}`;
  }

  /** An open idle session of the attempt, now the caller's; null when there is none. */
  take(key: string): PieceSession | null {
    const idle = this.#idle.get(key);
    if (!idle) return null;
    for (const entry of idle) {
      idle.delete(entry);
      clearTimeout(entry.timer);
      if (!entry.session.closed) {
        if (idle.size === 0) this.#idle.delete(key);
        return entry.session;
      }
    }
    this.#idle.delete(key);
    return null;
  }

  /** Back after a piece that succeeded on it; closed at once if it is closing, or once idle too long. */
  give(key: string, session: PieceSession): void {
    if (session.closed) return;
    if (this.#closed) {
      void session.close();
      return;
    }
    const idle = this.#idle.get(key) ?? new Set<Idle>();
    this.#idle.set(key, idle);
    const entry: Idle = {
      session,
      timer: setTimeout(() => {
        idle.delete(entry);
        if (idle.size === 0 && this.#idle.get(key) === idle) this.#idle.delete(key);
        void session.close();
      }, this.#idleMs),
    };
    // An idle session never keeps the process alive.
    entry.timer.unref();
    idle.add(entry);
  }

  /** Idle sessions now (for tests and logs). */
  get size(): number {
    let n = 0;
    for (const idle of this.#idle.values()) n += idle.size;
    return n;
  }

  /** Closes every idle session; those given back later are closed at once. */
  async close(): Promise<void> {
    this.#closed = true;
    const entries = [...this.#idle.values()].flatMap((idle) => [...idle]);
    this.#idle.clear();
    for (const entry of entries) clearTimeout(entry.timer);
    await Promise.all(entries.map((entry) => entry.session.close()));
  }
}
