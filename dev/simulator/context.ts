import type { SimFaults } from './faults.ts';
import type { ProvisionDeadlines } from './manager/deadlines.ts';
import type { SimLog } from './log.ts';
import type { ResolvedOptions } from './options.ts';
import type { PostgresServer } from './postgres/server.ts';
import type { SimStore } from './state/store.ts';

/** What every part of the simulator shares. `url` is filled in once the server listens. */
export interface SimContext {
  options: ResolvedOptions;
  store: SimStore;
  log: SimLog;
  faults: SimFaults;
  now: () => number;
  /** Timers per add-on: the 12-hour async deadline, and when a `heroku-postgresql` add-on becomes ready. */
  deadlines: ProvisionDeadlines;
  /** The server behind `heroku-postgresql` add-ons (null without `postgres.adminUrl`), its copies and drops in flight. */
  postgres: {
    server: PostgresServer | null;
    work: Map<string, { controller: AbortController; done: Promise<void> }>;
    drops: Set<Promise<void>>;
  };
  url: string;
}
