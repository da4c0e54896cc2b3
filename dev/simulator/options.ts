/** What the simulator knows about the add-on under test: the parts of its manifest Heroku would use. */
export interface SimulatedAddonManifest {
  /** Manifest `id`; the Basic-auth username Heroku sends and the service name in plan names. */
  id: string;
  /** Manifest `api.password`. */
  password: string;
  /** Manifest `api.sso_salt`. */
  ssoSalt: string;
  /** Manifest `api.<env>.base_url`: where provision/plan change/deprovision go. */
  baseUrl: string;
  /** Manifest `api.<env>.sso_url`: where the SSO form posts. */
  ssoUrl: string;
  /** Manifest `api.config_vars`; defaults to `[<PREFIX>_URL]`. */
  configVars?: string[];
  /** Manifest `api.config_vars_prefix`; defaults to the id upper-cased with `-` → `_`. */
  configVarsPrefix?: string;
  /** Manifest `name` (display name). */
  name?: string;
}

/** A user-level OAuth client (e.g. a "connect your database" flow) the simulated id.heroku.com knows. */
export interface SimulatedOAuthClient {
  id: string;
  secret: string;
  /** When set, `/oauth/authorize` refuses any other redirect_uri. */
  redirectUri?: string;
  name?: string;
}

/** The real PostgreSQL server behind simulated `heroku-postgresql` add-ons. */
export interface SimulatedPostgresOptions {
  /** Superuser URL; new add-ons and forks become databases on this server (CREATE DATABASE), dropped on DELETE. */
  adminUrl: string;
  /** Folder holding pg_dump and pg_restore for forks; default: the newest /usr/lib/postgresql/<n>/bin, then PATH. */
  binDir?: string;
}

/** Options for startHerokuSimulator. */
export interface HerokuSimulatorOptions {
  /** 0 or undefined: a random port. */
  port?: number;
  /** Interface to listen on; loopback by default. */
  host?: string;
  addon: SimulatedAddonManifest;
  /** The add-on's partner OAuth client secret (HEROKU_OAUTH_CLIENT_SECRET on the provider's side). */
  oauthClientSecret: string;
  oauthClients?: SimulatedOAuthClient[];
  accessTokenTtlSeconds?: number;
  grantCodeTtlSeconds?: number;
  /** How long Heroku waits for the provider to answer (contract: 25 s). */
  requestTimeoutMs?: number;
  /** How long an add-on may stay `provisioning` after a 202 (contract: 12 h). */
  asyncProvisionTimeoutMs?: number;
  /** Millisecond clock; token/code expiry and SSO timestamps read it. */
  now?: () => number;
  /** Needed to create `heroku-postgresql` add-ons and forks; attaching existing databases works without it. */
  postgres?: SimulatedPostgresOptions;
  /** How long a new `heroku-postgresql` add-on or fork stays `provisioning` before its copy starts (default 300). */
  forkReadyAfterMs?: number;
  /** The app the console's provision form fills in (the demo's app); empty by default: a new app. */
  consoleApp?: string;
}

/** Options with every default filled in. */
export interface ResolvedOptions {
  port: number;
  host: string;
  addon: Required<SimulatedAddonManifest>;
  oauthClientSecret: string;
  oauthClients: SimulatedOAuthClient[];
  accessTokenTtlSeconds: number;
  grantCodeTtlSeconds: number;
  requestTimeoutMs: number;
  asyncProvisionTimeoutMs: number;
  now: () => number;
  postgres: SimulatedPostgresOptions | null;
  forkReadyAfterMs: number;
  consoleApp: string;
}

/** Fills defaults; the numbers are Heroku's documented ones (§1.1, §2, §3.1 of the contract). */
export function resolveOptions(options: HerokuSimulatorOptions): ResolvedOptions {
  const prefix = options.addon.configVarsPrefix ?? options.addon.id.toUpperCase().replace(/-/g, '_');
  return {
    port: options.port ?? 0,
    host: options.host ?? '127.0.0.1',
    addon: {
      ...options.addon,
      configVarsPrefix: prefix,
      configVars: options.addon.configVars ?? [`${prefix}_URL`],
      name: options.addon.name ?? options.addon.id,
    },
    oauthClientSecret: options.oauthClientSecret,
    oauthClients: options.oauthClients ?? [],
    accessTokenTtlSeconds: options.accessTokenTtlSeconds ?? 28_800,
    grantCodeTtlSeconds: options.grantCodeTtlSeconds ?? 300,
    requestTimeoutMs: options.requestTimeoutMs ?? 25_000,
    asyncProvisionTimeoutMs: options.asyncProvisionTimeoutMs ?? 12 * 60 * 60 * 1000,
    now: options.now ?? Date.now,
    postgres: options.postgres ?? null,
    forkReadyAfterMs: options.forkReadyAfterMs ?? 300,
    consoleApp: options.consoleApp ?? '',
  };
}
