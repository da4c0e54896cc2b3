// Plain records the simulator keeps in memory. Times are milliseconds from the simulator's clock.

import type { ForkFault } from '../faults.ts';

/** Add-on states as the Platform API reports them. */
export type AddonState = 'provisioning' | 'provisioned' | 'deprovisioned';

/** A Heroku account. */
export interface SimUser {
  id: string;
  email: string;
  createdAt: number;
}

/** One entry of an app's release history; config changes and add-on lifecycle steps add one. */
export interface SimRelease {
  id: string;
  version: number;
  description: string;
  createdAt: number;
}

/** A Heroku app. `configVars` is what the app's dynos would see (add-on vars under attachment names). */
export interface SimApp {
  id: string;
  name: string;
  ownerId: string;
  collaboratorIds: string[];
  /** Short region name (`us`, `eu`). */
  region: string;
  configVars: Record<string, string>;
  releases: SimRelease[];
  createdAt: number;
  updatedAt: number;
}

/** Links an add-on to an app under a name; the name prefixes the add-on's config vars on that app. */
export interface SimAttachment {
  id: string;
  addonId: string;
  appId: string;
  name: string;
  createdAt: number;
}

/** The provision request body exactly as sent, kept so it can be replayed byte for byte. */
export interface ProvisionBody {
  uuid: string;
  name: string;
  plan: string;
  region: string;
  callback_url: string;
  oauth_grant: { code: string; expires_at: string; type: 'authorization_code' } | null;
  options: Record<string, string>;
  log_input_url?: string;
  log_drain_token?: string;
  [extra: string]: unknown;
}

/**
 * A real database behind a `heroku-postgresql` add-on. `created` databases live on the simulator's
 * PostgreSQL server (new add-ons and forks) and are dropped with the add-on; attached ones belong to the test.
 */
export interface SimPostgresDatabase {
  databaseName: string;
  origin: 'attached' | 'created';
  /** Source add-on id when this add-on is a fork. */
  forkOf: string | null;
  /**
   * Fault chosen when the add-on was created: stay `provisioning`, vanish before becoming ready, or
   * become ready with a URL nothing answers on (a database on a network the worker cannot reach).
   */
  fault: ForkFault | null;
}

/** An add-on resource: of the simulated service (the provider under test) or `heroku-postgresql`. Failed provisions end `deprovisioned` with `failure`. */
export interface SimAddon {
  /** Heroku's uuid; the `uuid` of the provision request and the Platform API `id`. */
  id: string;
  name: string;
  appId: string;
  /** Add-on service name: the manifest id, or `heroku-postgresql`. */
  service: string;
  /** Plan slug without the service prefix (`basic`, `standard-0`). */
  plan: string;
  /** Full region (`amazon-web-services::us-east-1`). */
  region: string;
  state: AddonState;
  /** The `id` the provider returned; null until it answered. */
  providerId: string | null;
  /** The add-on's own config under canonical (manifest) names, e.g. `BIG_BACKUP_URL`. */
  config: Record<string, string>;
  options: Record<string, string>;
  /** The partner authorization the provision grant belongs to; null when provisioned without a grant. */
  authorizationId: string | null;
  /** The provision request Heroku sent the provider; null for `heroku-postgresql` add-ons (Heroku's own). */
  provisionBody: ProvisionBody | null;
  /** The database behind a `heroku-postgresql` add-on; null for the simulated service. */
  postgres: SimPostgresDatabase | null;
  /** Last `message` the provider returned (shown to the user by the CLI). */
  message: string | null;
  /** Why provisioning failed, when it did. */
  failure: string | null;
  /** When the provider first answered the provision with 202; the 12-hour deadline counts from creation. */
  asyncAcceptedAt: number | null;
  /** True after the provider answered a deprovision with 202 and before it called actions/deprovision. */
  pendingDeprovision: boolean;
  createdAt: number;
  updatedAt: number;
  provisionedAt: number | null;
  deprovisionedAt: number | null;
}

/** An OAuth client of id.heroku.com: the add-on's partner client or a user-flow client. */
export interface SimOAuthClient {
  id: string;
  secret: string;
  kind: 'addon' | 'user';
  name: string;
  redirectUri: string | null;
}

/** Grants a client access: a partner authorization is scoped to one add-on; a user one to a user's scopes. */
export interface SimAuthorization {
  id: string;
  clientId: string;
  kind: 'partner' | 'user';
  userId: string;
  addonId: string | null;
  scopes: string[];
  /** Issued with the first token exchange; the same value is returned on every refresh. */
  refreshToken: string | null;
  sessionNonce: string;
  createdAt: number;
  revokedAt: number | null;
}

/** A single-use authorization code. */
export interface SimGrantCode {
  code: string;
  authorizationId: string;
  expiresAt: number;
  usedAt: number | null;
  redirectUri: string | null;
}

/** A bearer access token. */
export interface SimAccessToken {
  token: string;
  authorizationId: string;
  createdAt: number;
  expiresAt: number;
}

/** One line an add-on wrote to an app's log stream through its `log_input_url` (see logplex/routes.ts). */
export interface SimLogLine {
  addonId: string;
  appId: string;
  receivedAt: number;
  userAgent: string | null;
  priority: number;
  version: number;
  timestamp: string;
  hostname: string;
  appName: string;
  procId: string;
  msgId: string;
  structuredData: string;
  message: string;
}
