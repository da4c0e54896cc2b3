import type { AddressInfo } from 'node:net';
import type { SimContext } from './context.ts';
import { SimFaults } from './faults.ts';
import { createSimulatorApp } from './http/app.ts';
import { createFaultKnobs, type SimFaultKnobs } from './knobs.ts';
import { SimLog } from './log.ts';
import { ProvisionDeadlines } from './manager/deadlines.ts';
import { createAddonManagerDriver, type AddonManagerDriver } from './manager/driver.ts';
import { issueUserToken, type UserTokenRequest } from './oauth/user-tokens.ts';
import type { TokenResponse } from './oauth/token-response.ts';
import { resolveOptions, type HerokuSimulatorOptions } from './options.ts';
import {
  attachPostgres,
  postgresSummaries,
  rotatePostgresCredentials,
  stopPostgres,
  type AttachPostgresOptions,
  type PostgresAddonSummary,
} from './postgres/addons.ts';
import { postgresServer } from './postgres/server.ts';
import { buildSsoForm, type SsoForm, type SsoFormOptions } from './sso/form.ts';
import { ensureApp, type AppSpec } from './state/apps.ts';
import { newId, stableId } from './state/ids.ts';
import { createStore, findAddon, findApp, type SimStore } from './state/store.ts';
import type { SimAddon, SimApp, SimLogLine } from './state/types.ts';

/** A running simulator: the HTTP server plus the programmatic side tests drive. */
export interface HerokuSimulator extends AddonManagerDriver {
  /** Base URL standing for both api.heroku.com and id.heroku.com (HEROKU_API_URL = HEROKU_OAUTH_URL). */
  url: string;
  /** Live in-memory state; read it, change it only through these methods. */
  state: SimStore;
  /** Requests received, provider calls made, violations noticed. */
  log: SimLog;
  faults: SimFaultKnobs;
  /** An add-on by uuid or name. */
  addon(idOrName: string): SimAddon | undefined;
  /** An app by id or name. */
  app(idOrName: string): SimApp | undefined;
  /** Creates (or returns) an app with owner and collaborators. */
  createApp(spec: AppSpec): SimApp;
  /** The SSO form Heroku's browser would post (honest or a deliberately wrong variant). */
  ssoForm(addonIdOrName: string, opts?: SsoFormOptions): SsoForm;
  /** Mints a user-level token (for user-OAuth flows) without the browser round trip. */
  issueUserToken(req: UserTokenRequest): TokenResponse;
  /**
   * Registers an existing real database as a provisioned `heroku-postgresql` add-on on the app (made
   * by name if missing) and sets `<AS>_URL` (default `DATABASE_URL`) in one release. Never dropped by the simulator.
   */
  attachPostgres(appIdOrName: string, opts: AttachPostgresOptions): SimAddon;
  /** The database's password changed: every attached app's `<ATTACHMENT>_URL` becomes `newUrl` (one release each). */
  rotatePostgresCredentials(addonIdOrName: string, newUrl: string): void;
  /** Number of releases of the app (a new app has 1). */
  releases(appIdOrName: string): number;
  /** Lines add-ons wrote to the app's log stream (every app's without an argument), oldest first. */
  logLines(appIdOrName?: string): SimLogLine[];
  /** Every `heroku-postgresql` add-on ever made, deprovisioned ones included: filter on `state`. */
  postgresAddons(): PostgresAddonSummary[];
  /** Closes the server, stops timers and copies, and drops the databases it created that are still live. */
  stop(): Promise<void>;
}

/** Starts the simulator on a loopback port (random unless `port` is given). */
export async function startHerokuSimulator(options: HerokuSimulatorOptions): Promise<HerokuSimulator> {
  const resolved = resolveOptions(options);
  const store = createStore(stableId(`oauth-client:${resolved.addon.id}`), newId());
  store.clients.set(store.addonClientId, {
    id: store.addonClientId,
    secret: resolved.oauthClientSecret,
    kind: 'addon',
    name: resolved.addon.name,
    redirectUri: null,
  });
  for (const client of resolved.oauthClients) {
    store.clients.set(client.id, {
      id: client.id,
      secret: client.secret,
      kind: 'user',
      name: client.name ?? client.id,
      redirectUri: client.redirectUri ?? null,
    });
  }
  store.users.set(store.partnerUserId, {
    id: store.partnerUserId,
    email: `${resolved.addon.id}@addons.heroku.com`,
    createdAt: resolved.now(),
  });

  const ctx: SimContext = {
    options: resolved,
    store,
    log: new SimLog(),
    faults: new SimFaults(),
    now: resolved.now,
    deadlines: new ProvisionDeadlines(),
    url: '',
    postgres: {
      server: resolved.postgres ? postgresServer(resolved.postgres.adminUrl, resolved.postgres.binDir) : null,
      work: new Map(),
      drops: new Set(),
    },
  };
  const driver = createAddonManagerDriver(ctx);
  const server = createSimulatorApp(ctx, driver).listen(resolved.port, resolved.host);
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const host = resolved.host === '0.0.0.0' || resolved.host === '::' ? '127.0.0.1' : resolved.host;
  ctx.url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    ...driver,
    url: ctx.url,
    state: store,
    log: ctx.log,
    faults: createFaultKnobs(ctx),
    addon: (idOrName) => findAddon(store, idOrName),
    app: (idOrName) => findApp(store, idOrName),
    createApp: (spec) => ensureApp(store, spec, ctx.now()),
    ssoForm: (addonIdOrName, opts) => buildSsoForm(ctx, addonIdOrName, opts),
    issueUserToken: (req) => issueUserToken(ctx, req),
    attachPostgres: (appIdOrName, opts) => attachPostgres(ctx, appIdOrName, opts),
    rotatePostgresCredentials: (addonIdOrName, newUrl) => rotatePostgresCredentials(ctx, addonIdOrName, newUrl),
    releases: (appIdOrName) => {
      const app = findApp(store, appIdOrName);
      if (!app) throw new Error(`simulator: no app ${appIdOrName}`);
      return app.releases.length;
    },
    postgresAddons: () => postgresSummaries(ctx),
    logLines: (appIdOrName) => {
      if (appIdOrName === undefined) return [...store.logLines];
      const app = findApp(store, appIdOrName);
      return app ? store.logLines.filter((line) => line.appId === app.id) : [];
    },
    stop: async () => {
      // Stop taking requests first: a POST answered while databases are being dropped would start a
      // timer (or a copy) that creates a database after stop() returned, which nothing would ever drop.
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      ctx.deadlines.clearAll();
      await stopPostgres(ctx);
    },
  };
}
