import type pg from 'pg';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import { createPool } from '../db/pool.ts';
import { SecretBox } from '../crypto/secret-box.ts';
import type { PartnerAuthorizationDeps } from '../heroku/partner-authorization.ts';

/** The shared parts every process builds from its configuration. */
export interface Runtime {
  config: Config;
  logger: Logger;
  pool: pg.Pool;
  secrets: SecretBox;
  partner: PartnerAuthorizationDeps;
}

export function createRuntime(config: Config, logger: Logger, poolSize = config.DATABASE_POOL_SIZE): Runtime {
  const pool = createPool(config.DATABASE_URL, poolSize);
  const secrets = new SecretBox(config.ENCRYPTION_KEY);
  return {
    config,
    logger,
    pool,
    secrets,
    partner: {
      pool,
      secrets,
      oauthUrl: config.HEROKU_OAUTH_URL,
      apiUrl: config.HEROKU_API_URL,
      clientSecret: config.HEROKU_OAUTH_CLIENT_SECRET,
    },
  };
}
