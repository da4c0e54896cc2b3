import type { SimFaults } from './faults.ts';
import type { ProvisionDeadlines } from './manager/deadlines.ts';
import type { SimLog } from './log.ts';
import type { ResolvedOptions } from './options.ts';
import type { SimStore } from './state/store.ts';

/** What every part of the simulator shares. `url` is filled in once the server listens. */
export interface SimContext {
  options: ResolvedOptions;
  store: SimStore;
  log: SimLog;
  faults: SimFaults;
  now: () => number;
  deadlines: ProvisionDeadlines;
  url: string;
}
