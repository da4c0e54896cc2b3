import type pg from 'pg';
import type { SecretBox } from '../crypto/secret-box.ts';
import { exchangeGrantCode, sealTokens } from './oauth-client.ts';
import { refreshUnderLock, stillFresh } from './refresh-under-lock.ts';
import { PlatformApiError } from './platform-api.ts';
import { createConnectApi, type ConnectApi } from './connect-api.ts';
import {
  findConnection,
  markReconnectNeeded,
  saveConnection,
  storeRefreshedTokens,
} from './connect-connections.repo.ts';

/** What the "Connect Heroku" grant needs: our own OAuth client (not the add-on's partner client). */
export interface ConnectDeps {
  pool: pg.Pool;
  secrets: SecretBox;
  oauthUrl: string;
  apiUrl: string;
  /** Undefined when HEROKU_CONNECT_CLIENT_ID/SECRET are not configured. */
  client?: { id: string; secret: string };
  now?: () => Date;
  /** Replaces the wait between rate-limited retries (tests). */
  sleep?: (ms: number) => Promise<void>;
}

/** The scope we ask for: config vars (the database URL) and creating/destroying add-ons (forks). */
export const CONNECT_SCOPE = 'write-protected';

/** The resource is not connected, or its grant stopped working: someone must (re)connect. Not retryable. */
export class ConnectionUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConnectionUnavailableError';
  }
}

/** Sealed-column names: part of each ciphertext's authenticated data. */
export const CONNECT_SEALED = {
  access: 'heroku_connections.access_token',
  refresh: 'heroku_connections.refresh_token',
} as const;

/** Builds ConnectDeps from configuration values. */
export function connectDeps(
  base: { pool: pg.Pool; secrets: SecretBox },
  config: {
    HEROKU_OAUTH_URL: string;
    HEROKU_API_URL: string;
    HEROKU_CONNECT_CLIENT_ID?: string | undefined;
    HEROKU_CONNECT_CLIENT_SECRET?: string | undefined;
  },
): ConnectDeps {
  const { HEROKU_CONNECT_CLIENT_ID: id, HEROKU_CONNECT_CLIENT_SECRET: secret } = config;
  return {
    ...base,
    oauthUrl: config.HEROKU_OAUTH_URL,
    apiUrl: config.HEROKU_API_URL,
    ...(id && secret ? { client: { id, secret } } : {}),
  };
}

/**
 * Exchanges the code from the authorize redirect, learns whose grant it is (GET /account) and stores
 * the sealed tokens with who connected it and when. Returns the API client for the next steps.
 */
export async function completeConnect(
  deps: ConnectDeps,
  resourceId: string,
  code: string,
  connectedBy: string,
): Promise<{ api: ConnectApi; email: string }> {
  if (!deps.client)
    throw new ConnectionUnavailableError('Connecting a Heroku account is not configured on this server.');
  const tokens = await exchangeGrantCode(deps.oauthUrl, code, deps.client.secret, deps.now?.() ?? new Date());
  const api = createConnectApi(deps.apiUrl, tokens.accessToken, deps.sleep ? { sleep: deps.sleep } : {});
  const account = await api.account();
  await saveConnection(deps.pool, resourceId, {
    ...sealTokens(deps.secrets, resourceId, tokens, CONNECT_SEALED),
    herokuUserId: account.id,
    herokuEmail: account.email,
    connectedBy,
  });
  return { api, email: account.email };
}

/**
 * Runs `fn` with a Platform API client holding a valid user token for the resource: refreshed when it
 * expires within five minutes, and once more if Heroku answers 401 anyway. A grant Heroku refuses
 * (revoked, invalid_grant, or 401 even after a refresh) marks the connection "reconnect needed" with
 * the reason and throws ConnectionUnavailableError, which callers treat as not retryable.
 */
export async function withConnectApi<T>(
  deps: ConnectDeps,
  resourceId: string,
  fn: (api: ConnectApi) => Promise<T>,
): Promise<T> {
  const token = await currentToken(deps, resourceId, false);
  const api = (t: string) => createConnectApi(deps.apiUrl, t, deps.sleep ? { sleep: deps.sleep } : {});
  try {
    return await fn(api(token));
  } catch (error) {
    if (!(error instanceof PlatformApiError) || error.statusCode !== 401) throw error;
  }
  const fresh = await currentToken(deps, resourceId, true, token);
  try {
    return await fn(api(fresh));
  } catch (error) {
    if (error instanceof PlatformApiError && error.statusCode === 401) {
      const reason =
        "Heroku no longer accepts the connected account's authorization (401); reconnect Heroku in the dashboard";
      await markReconnectNeeded(deps.pool, resourceId, reason);
      throw new ConnectionUnavailableError(reason);
    }
    throw error;
  }
}

async function currentToken(deps: ConnectDeps, resourceId: string, force: boolean, rejected?: string): Promise<string> {
  const now = deps.now?.() ?? new Date();
  const row = await findConnection(deps.pool, resourceId);
  if (!row)
    throw new ConnectionUnavailableError(
      'no Heroku account is connected: an admin must connect Heroku in the dashboard',
    );
  if (row.status !== 'connected' || !row.accessTokenCiphertext || !row.accessTokenExpiresAt) {
    throw new ConnectionUnavailableError(`reconnect needed: ${row.lastError ?? 'the Heroku connection is not usable'}`);
  }
  if (!force && stillFresh(row.accessTokenExpiresAt, now)) {
    return deps.secrets.open(row.accessTokenCiphertext, resourceId, CONNECT_SEALED.access);
  }
  if (!deps.client)
    throw new ConnectionUnavailableError(
      'Connecting a Heroku account is not configured on this server, so its token cannot be refreshed.',
    );
  const outcome = await refreshUnderLock(
    {
      pool: deps.pool,
      secrets: deps.secrets,
      resourceId,
      sealed: CONNECT_SEALED,
      oauthUrl: deps.oauthUrl,
      clientSecret: deps.client.secret,
      now,
      lock: async (tx) => {
        const locked = await findConnection(tx, resourceId, { lock: true });
        if (
          locked?.status !== 'connected' ||
          !locked.accessTokenCiphertext ||
          !locked.refreshTokenCiphertext ||
          !locked.accessTokenExpiresAt
        ) {
          return { unusable: `reconnect needed: ${locked?.lastError ?? 'the Heroku connection is not usable'}` };
        }
        return {
          accessTokenCiphertext: locked.accessTokenCiphertext,
          refreshTokenCiphertext: locked.refreshTokenCiphertext,
          accessTokenExpiresAt: locked.accessTokenExpiresAt,
        };
      },
      store: (tx, tokens) => storeRefreshedTokens(tx, resourceId, tokens),
      refused: async (tx, error) => {
        const reason = `Heroku refused to refresh the connected account's authorization (${error.message}); reconnect Heroku in the dashboard`;
        await markReconnectNeeded(tx, resourceId, reason);
        return reason;
      },
    },
    { force, rejected },
  );
  if ('unavailable' in outcome) throw new ConnectionUnavailableError(outcome.unavailable);
  return outcome.token;
}
