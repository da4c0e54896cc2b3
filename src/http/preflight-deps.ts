import type { AppDeps } from './deps.ts';
import { connectDeps } from '../heroku/connect-authorization.ts';
import type { PreflightDeps } from '../preflight/preflight.service.ts';

/** What an on-demand pre-flight check uses of the web process's dependencies. */
export function webPreflightDeps(deps: AppDeps): PreflightDeps {
  return {
    pool: deps.pool,
    secrets: deps.secrets,
    connect: connectDeps({ pool: deps.pool, secrets: deps.secrets }, deps.config),
    hosts: { allowPrivate: deps.config.ALLOW_PRIVATE_DATABASE_HOSTS },
    ...(deps.config.PG_BIN_DIR ? { pgBinDir: deps.config.PG_BIN_DIR } : {}),
  };
}
