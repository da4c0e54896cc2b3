import type pg from 'pg';
import type { PgBoss } from 'pg-boss';
import type { Logger } from '../logger.ts';
import type { PartnerAuthorizationDeps } from '../heroku/partner-authorization.ts';

/** What every job handler may use. */
export interface JobDeps {
  pool: pg.Pool;
  boss: PgBoss;
  logger: Logger;
  partner: PartnerAuthorizationDeps;
}
