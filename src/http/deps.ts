import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import type { ObjectStore } from '../storage/object-store.ts';
import type { RateLimits } from './rate-limits.ts';
import type { NotifyDeps } from '../notifications/notify-deps.ts';

/** What the web application needs; built by bin/web.ts (or a test) and passed in, never imported. */
export interface AppDeps {
  config: Config;
  pool: pg.Pool;
  /** A send-only pg-boss instance (no supervision, no cron). */
  boss: PgBoss;
  logger: Logger;
  secrets: SecretBox;
  /** Where archives are, for download links (presigned on S3, streamed by us from local disk). */
  store: ObjectStore;
  /** Clock in seconds, replaceable in tests of SSO time windows. */
  nowSeconds?: () => number;
  /** Limits on the API and dashboard writes; RATE_LIMITS unless a test passes smaller ones. */
  rateLimits?: RateLimits;
  /** Notification channels; built from `config` unless a test passes its own (a production webhook policy). */
  notify?: NotifyDeps;
}
