import type pg from 'pg';
import type { SecretBox } from '../crypto/secret-box.ts';
import { exchangeGrantCode, sealTokens, OAuthRejectedError, type TokenSet } from './oauth-client.ts';
import { refreshUnderLock, stillFresh } from './refresh-under-lock.ts';
import { createPlatformApi, PlatformApiError, type PlatformApi } from './platform-api.ts';
import { findAuthorization, markAuthorizationFailed, storeTokens } from './authorizations.repo.ts';

/** What the partner-authorization flow needs. */
export interface PartnerAuthorizationDeps {
  pool: pg.Pool;
  secrets: SecretBox;
  oauthUrl: string;
  apiUrl: string;
  clientSecret: string;
  now?: () => Date;
}

/** The resource has no usable partner authorization; retrying will not help until something changes. */
export class AuthorizationUnavailableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AuthorizationUnavailableError';
  }
}

/** Sealed-column names: they are part of each ciphertext's authenticated data. */
export const SEALED = {
  grantCode: 'heroku_authorizations.grant_code',
  access: 'heroku_authorizations.access_token',
  refresh: 'heroku_authorizations.refresh_token',
} as const;

/**
 * Exchanges the provision grant for tokens. Idempotent: an already active authorization is left alone.
 * A refused or expired code marks the authorization failed (and does not throw, since a retry cannot
 * help); an unreachable id.heroku.com throws so the job retries while the code is still valid.
 */
export async function exchangeProvisionGrant(
  deps: PartnerAuthorizationDeps,
  resourceId: string,
): Promise<'exchanged' | 'already-active' | 'failed'> {
  const now = deps.now?.() ?? new Date();
  const row = await findAuthorization(deps.pool, resourceId);
  if (!row) throw new AuthorizationUnavailableError('no authorization row for this resource');
  if (row.status === 'active') return 'already-active';
  if (row.status !== 'pending' || !row.grantCodeCiphertext) return 'failed';
  if (row.grantExpiresAt && row.grantExpiresAt.getTime() < now.getTime()) {
    await markAuthorizationFailed(deps.pool, resourceId, 'the OAuth grant expired before it could be exchanged');
    return 'failed';
  }
  const code = deps.secrets.open(row.grantCodeCiphertext, resourceId, SEALED.grantCode);
  let tokens: TokenSet;
  try {
    tokens = await exchangeGrantCode(deps.oauthUrl, code, deps.clientSecret, now);
  } catch (error) {
    if (error instanceof OAuthRejectedError) {
      await markAuthorizationFailed(deps.pool, resourceId, error.message);
      return 'failed';
    }
    throw error;
  }
  await storeTokens(deps.pool, resourceId, sealTokens(deps.secrets, resourceId, tokens, SEALED), 'exchange');
  return 'exchanged';
}

/**
 * Runs `fn` with a Platform API client holding a valid partner token for the resource: refreshed when
 * it expires within five minutes, and refreshed once more if Heroku answers 401 anyway (tokens can be
 * invalidated early).
 */
export async function withPartnerApi<T>(
  deps: PartnerAuthorizationDeps,
  resourceId: string,
  fn: (api: PlatformApi) => Promise<T>,
): Promise<T> {
  const token = await currentAccessToken(deps, resourceId, false);
  try {
    return await fn(createPlatformApi(deps.apiUrl, token));
  } catch (error) {
    if (!(error instanceof PlatformApiError) || error.statusCode !== 401) throw error;
    const fresh = await currentAccessToken(deps, resourceId, true, token);
    return fn(createPlatformApi(deps.apiUrl, fresh));
  }
}

async function currentAccessToken(
  deps: PartnerAuthorizationDeps,
  resourceId: string,
  force: boolean,
  rejected?: string,
): Promise<string> {
  const now = deps.now?.() ?? new Date();
  const row = await findAuthorization(deps.pool, resourceId);
  const usable = (r: typeof row) => r?.status === 'active' && r.accessTokenCiphertext && r.accessTokenExpiresAt;
  if (!usable(row))
    throw new AuthorizationUnavailableError(row?.failureReason ?? 'the Heroku authorization is not active yet');
  if (!force && stillFresh(row!.accessTokenExpiresAt!, now)) {
    return deps.secrets.open(row!.accessTokenCiphertext!, resourceId, SEALED.access);
  }
  const outcome = await refreshUnderLock(
    {
      pool: deps.pool,
      secrets: deps.secrets,
      resourceId,
      sealed: SEALED,
      oauthUrl: deps.oauthUrl,
      clientSecret: deps.clientSecret,
      now,
      lock: async (tx) => {
        const locked = await findAuthorization(tx, resourceId, { lock: true });
        if (
          locked?.status !== 'active' ||
          !locked.accessTokenCiphertext ||
          !locked.refreshTokenCiphertext ||
          !locked.accessTokenExpiresAt
        ) {
          return { unusable: locked?.failureReason ?? 'the Heroku authorization is not active' };
        }
        return {
          accessTokenCiphertext: locked.accessTokenCiphertext,
          refreshTokenCiphertext: locked.refreshTokenCiphertext,
          accessTokenExpiresAt: locked.accessTokenExpiresAt,
        };
      },
      store: (tx, tokens) => storeTokens(tx, resourceId, tokens, 'refresh'),
      refused: async (tx, error) => {
        const reason = `Heroku refused to refresh the authorization: ${error.message}`;
        await markAuthorizationFailed(tx, resourceId, reason, 'revoked');
        return reason;
      },
    },
    { force, rejected },
  );
  if ('unavailable' in outcome) throw new AuthorizationUnavailableError(outcome.unavailable);
  return outcome.token;
}
