import Heroku, { type HerokuClientError } from 'heroku-client';
import type { IncomingMessage } from 'node:http';
import { PlatformApiError, type HerokuAddon } from './platform-api.ts';

/** An app as the Platform API describes it (the fields we read). */
export interface HerokuApp {
  id: string;
  name: string;
}

/** An add-on as the Platform API describes it to a user token (the fields we read). */
export interface UserAddon extends HerokuAddon {
  addon_service?: { name: string };
}

/** An attachment: an add-on exposed to an app under a name, which prefixes its config var (`<NAME>_URL`). */
export interface HerokuAttachment {
  id: string;
  name: string;
  addon: { id: string; name: string; app?: { id: string; name: string } };
  app: { id: string; name: string };
  created_at?: string;
}

/** What a fork is created from and where it goes. */
export interface ForkRequest {
  /** The scratch app that will hold the fork. */
  app: string;
  /** `heroku-postgresql:<plan>`. */
  plan: string;
  /**
   * The database to fork, in a form Heroku documents for `fork` (Dev Center, "Forking Your Heroku
   * Postgres Database"): `app::CONFIG_VAR` such as `acme::DATABASE_URL` (what we send), a config var
   * of the target app, or the database URL. An add-on id or name is not a documented form.
   */
  source: string;
  attachmentName: string;
}

/** Heroku answered 429; `retryAfterSeconds` comes from its Retry-After header. */
export class RateLimitedError extends PlatformApiError {
  readonly retryAfterSeconds: number;
  constructor(message: string, retryAfterSeconds: number) {
    super(429, message);
    this.name = 'RateLimitedError';
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The Platform API calls we make with the customer's own (user) token. */
export interface ConnectApi {
  account(): Promise<{ id: string; email: string }>;
  listApps(): Promise<HerokuApp[]>;
  createApp(name: string): Promise<HerokuApp>;
  app(nameOrId: string): Promise<HerokuApp>;
  configVars(app: string): Promise<Record<string, string | null>>;
  attachments(app: string): Promise<HerokuAttachment[]>;
  addon(addonId: string): Promise<UserAddon>;
  appAddon(app: string, addonId: string): Promise<UserAddon>;
  createFork(request: ForkRequest): Promise<UserAddon>;
  /** An empty Heroku Postgres database on `request.app` (no `fork`): a restore drill's target. */
  createDatabase(request: Omit<ForkRequest, 'source'>): Promise<UserAddon>;
  deleteAddon(app: string, addonId: string): Promise<void>;
}

// A rate-limited call is retried this many times, waiting as long as Heroku asks (capped).
const RATE_LIMIT_RETRIES = 3;
const MAX_RETRY_AFTER_SECONDS = 60;

/**
 * A Platform API client for a user token (Bearer), over heroku-client. 429 answers are waited out as
 * Retry-After says, a few times, then surface as RateLimitedError; other non-2xx answers are
 * PlatformApiError with Heroku's message (never the token).
 */
export function createConnectApi(
  apiUrl: string,
  accessToken: string,
  options: { sleep?: (ms: number) => Promise<void> } = {},
): ConnectApi {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  async function call<T>(what: string, run: (client: Heroku) => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      let retryAfter = 0;
      // heroku-client's errors carry no headers; its response middleware sees Retry-After.
      const clientOptions = {
        host: apiUrl,
        headers: { Authorization: `Bearer ${accessToken}` },
        timeout: 15_000,
        middleware: (res: IncomingMessage, next: () => void) => {
          retryAfter = Number(res.headers['retry-after'] ?? 0) || 0;
          next();
        },
      };
      const client = new Heroku(clientOptions);
      try {
        return await run(client);
      } catch (error) {
        const status = (error as HerokuClientError).statusCode;
        const body = (error as HerokuClientError).body as { id?: string; message?: string } | undefined;
        if (typeof status !== 'number') {
          throw new Error(`could not reach the Heroku Platform API ${what}: ${(error as Error).message}`, {
            cause: error,
          });
        }
        const message = `Heroku answered ${status} ${what}${body?.message ? `: ${body.message}` : ''}`;
        if (status === 429) {
          const wait = Math.min(Math.max(retryAfter, 1), MAX_RETRY_AFTER_SECONDS);
          if (attempt < RATE_LIMIT_RETRIES) {
            await sleep(wait * 1000);
            continue;
          }
          throw new RateLimitedError(message, wait);
        }
        throw new PlatformApiError(status, message);
      }
    }
  }
  const app = (name: string) => `/apps/${encodeURIComponent(name)}`;
  return {
    account: () => call('reading the account', (c) => c.get('/account')),
    listApps: () => call('listing apps', (c) => c.get('/apps')),
    createApp: (name) => call('creating the app for forks', (c) => c.post('/apps', { body: { name } })),
    app: (nameOrId) => call('reading the app', (c) => c.get(app(nameOrId))),
    configVars: (name) => call("reading the app's config vars", (c) => c.get(`${app(name)}/config-vars`)),
    attachments: (name) => call("listing the app's add-on attachments", (c) => c.get(`${app(name)}/addon-attachments`)),
    addon: (addonId) => call('reading the add-on', (c) => c.get(`/addons/${encodeURIComponent(addonId)}`)),
    appAddon: (name, addonId) =>
      call('reading the fork', (c) => c.get(`${app(name)}/addons/${encodeURIComponent(addonId)}`)),
    createFork: (request) =>
      call('creating the fork', (c) =>
        c.post(`${app(request.app)}/addons`, {
          body: { plan: request.plan, config: { fork: request.source }, attachment: { name: request.attachmentName } },
        }),
      ),
    createDatabase: (request) =>
      call('creating the database for a restore drill', (c) =>
        c.post(`${app(request.app)}/addons`, {
          body: { plan: request.plan, attachment: { name: request.attachmentName } },
        }),
      ),
    deleteAddon: async (name, addonId) => {
      await call('destroying the fork', (c) => c.delete(`${app(name)}/addons/${encodeURIComponent(addonId)}`));
    },
  };
}
