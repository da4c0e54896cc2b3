import type {
  SimAccessToken,
  SimAddon,
  SimApp,
  SimAttachment,
  SimAuthorization,
  SimGrantCode,
  SimOAuthClient,
  SimLogLine,
  SimUser,
} from './types.ts';

/**
 * The whole simulated Heroku state, keyed by id. Route modules and the add-on manager driver share
 * it; tests may read it but should change it only through the simulator's functions.
 */
export interface SimStore {
  users: Map<string, SimUser>;
  apps: Map<string, SimApp>;
  addons: Map<string, SimAddon>;
  attachments: Map<string, SimAttachment>;
  clients: Map<string, SimOAuthClient>;
  authorizations: Map<string, SimAuthorization>;
  grantCodes: Map<string, SimGrantCode>;
  accessTokens: Map<string, SimAccessToken>;
  /** refresh token → authorization id */
  refreshTokens: Map<string, string>;
  /** The add-on service's own OAuth client (the one `oauthClientSecret` belongs to). */
  addonClientId: string;
  /** The Heroku user partner tokens act as (reported as `user_id` in token responses). */
  partnerUserId: string;
  /** Lines add-ons wrote to apps' log streams, in the order received. */
  logLines: SimLogLine[];
}

/** Creates an empty store. */
export function createStore(addonClientId: string, partnerUserId: string): SimStore {
  return {
    users: new Map(),
    apps: new Map(),
    addons: new Map(),
    attachments: new Map(),
    clients: new Map(),
    authorizations: new Map(),
    grantCodes: new Map(),
    accessTokens: new Map(),
    refreshTokens: new Map(),
    addonClientId,
    partnerUserId,
    logLines: [],
  };
}

/** Finds an app by id or name. */
export function findApp(store: SimStore, idOrName: string): SimApp | undefined {
  const byId = store.apps.get(idOrName);
  if (byId) return byId;
  for (const app of store.apps.values()) if (app.name === idOrName) return app;
  return undefined;
}

/** Finds an add-on by id (uuid) or name. */
export function findAddon(store: SimStore, idOrName: string): SimAddon | undefined {
  const byId = store.addons.get(idOrName);
  if (byId) return byId;
  for (const addon of store.addons.values()) if (addon.name === idOrName) return addon;
  return undefined;
}

/** Finds a user by id or email. */
export function findUser(store: SimStore, idOrEmail: string): SimUser | undefined {
  const byId = store.users.get(idOrEmail);
  if (byId) return byId;
  for (const user of store.users.values()) if (user.email === idOrEmail) return user;
  return undefined;
}

/** The add-on's app; throws because an add-on without its app means the store is corrupt. */
export function appOf(store: SimStore, addon: SimAddon): SimApp {
  const app = store.apps.get(addon.appId);
  if (!app) throw new Error(`simulator state: add-on ${addon.id} has no app ${addon.appId}`);
  return app;
}

/** Attachments of an add-on, oldest first. */
export function attachmentsOf(store: SimStore, addonId: string): SimAttachment[] {
  return [...store.attachments.values()].filter((a) => a.addonId === addonId);
}

/** An add-on of the simulated service (the provider under test) by id or name; never a `heroku-postgresql` one. */
export function findServiceAddon(store: SimStore, idOrName: string): SimAddon | undefined {
  const addon = findAddon(store, idOrName);
  return addon && addon.postgres === null ? addon : undefined;
}
