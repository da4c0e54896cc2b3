import type pg from 'pg';
import type { PieceSessionPool } from './sharded/piece-sessions.ts';
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { PartnerAuthorizationDeps } from '../heroku/partner-authorization.ts';
import type { ConnectDeps } from '../heroku/connect-authorization.ts';
import type { ForkSettings } from '../forks/fork-lifecycle.ts';
import type { HostPolicy, ThroughputFloor } from '../engine/index.ts';
import type { PlanCatalogue } from '../resources/plans.ts';
import type { NotifyDeps } from '../notifications/notify-deps.ts';

/** What every job handler may use. */
export interface JobDeps {
  pool: pg.Pool;
  boss: PgBoss;
  logger: Logger;
  secrets: SecretBox;
  store: ObjectStore;
  partner: PartnerAuthorizationDeps;
  backup: {
    stallTimeoutMs: number;
    /** A dump slower than this over the window fails as `too_slow`; absent, no floor. */
    minThroughput?: ThroughputFloor;
    pgBinDir?: string;
    cancelPollMs?: number;
    /** Sharded capture (issue 14): tables above this are dumped in several pieces; default 1 GiB. */
    shardSplitSizeBytes?: number;
  };
  /** The plans whose limits backups enforce: PLANS, unless a test hands the job a catalogue of its own. */
  plans?: PlanCatalogue;
  /** Which hosts a source may point at (ALLOW_PRIVATE_DATABASE_HOSTS); public ones only when absent. */
  hosts?: HostPolicy;
  /** Source sessions kept between one attempt's pieces on this worker (piece-sessions.ts); absent, each piece opens its own. */
  pieceSessions?: PieceSessionPool;
  /** The customer's own Heroku grant ("Connect Heroku"): resolving the database and forking it. */
  connect?: ConnectDeps;
  forks?: ForkSettings;
  /** Stored archives re-read over time (RECHECK_BYTES_PER_HOUR); DEFAULT_RECHECK_BYTES_PER_HOUR when absent. */
  recheck?: { bytesPerHour: number };
  /** Restore drills after fork-based backups (issue 15); see forks/restore-drill.ts DrillDeps. */
  drills?: {
    spoolMaxBytes?: number;
    spoolDir?: string;
    pollIntervalMs?: number;
    alterRestoredSql?: string;
  };
  /** Email, webhooks and the log stream (issue 16); absent, no notification is recorded or sent. */
  notify?: NotifyDeps;
}

/** The pg-boss job a handler is running. */
export interface JobContext {
  id: string;
  /** Aborted by pg-boss on expiry or shutdown. */
  signal: AbortSignal;
  /** 0 on the first run; grows by one on each retry. */
  retryCount: number;
  /** How long pg-boss lets this run before it fails the job as expired. */
  expireInSeconds: number;
}
