import { newId, newNonce, newToken } from './ids.ts';
import type { SimStore } from './store.ts';
import type { SimAccessToken, SimAuthorization, SimGrantCode } from './types.ts';

/** Creates the partner authorization Heroku makes for each provisioned add-on resource. */
export function createPartnerAuthorization(store: SimStore, addonId: string, now: number): SimAuthorization {
  return createAuthorization(
    store,
    { clientId: store.addonClientId, kind: 'partner', userId: store.partnerUserId, addonId, scopes: [] },
    now,
  );
}

/** Creates a user authorization for a user-flow OAuth client. */
export function createUserAuthorization(
  store: SimStore,
  clientId: string,
  userId: string,
  scopes: string[],
  now: number,
): SimAuthorization {
  return createAuthorization(store, { clientId, kind: 'user', userId, addonId: null, scopes }, now);
}

function createAuthorization(
  store: SimStore,
  fields: Pick<SimAuthorization, 'clientId' | 'kind' | 'userId' | 'addonId' | 'scopes'>,
  now: number,
): SimAuthorization {
  const authorization: SimAuthorization = {
    id: newId(),
    ...fields,
    refreshToken: null,
    sessionNonce: newNonce(),
    createdAt: now,
    revokedAt: null,
  };
  store.authorizations.set(authorization.id, authorization);
  return authorization;
}

/** Issues a single-use code for an authorization. */
export function issueGrantCode(
  store: SimStore,
  authorizationId: string,
  ttlSeconds: number,
  now: number,
  redirectUri: string | null = null,
): SimGrantCode {
  const grant: SimGrantCode = {
    code: newId(),
    authorizationId,
    expiresAt: now + ttlSeconds * 1000,
    usedAt: null,
    redirectUri,
  };
  store.grantCodes.set(grant.code, grant);
  return grant;
}

/** Issues a new access token (and the authorization's refresh token on first use). */
export function issueTokens(
  store: SimStore,
  authorization: SimAuthorization,
  ttlSeconds: number,
  now: number,
): SimAccessToken {
  if (!authorization.refreshToken) {
    authorization.refreshToken = newToken();
    store.refreshTokens.set(authorization.refreshToken, authorization.id);
  }
  const access: SimAccessToken = {
    token: newToken(),
    authorizationId: authorization.id,
    createdAt: now,
    expiresAt: now + ttlSeconds * 1000,
  };
  store.accessTokens.set(access.token, access);
  return access;
}

/** Revokes an authorization: its access tokens stop working and its refresh token is refused. */
export function revokeAuthorization(store: SimStore, authorizationId: string | null, now: number): void {
  if (!authorizationId) return;
  const authorization = store.authorizations.get(authorizationId);
  if (authorization && authorization.revokedAt === null) authorization.revokedAt = now;
}

/** How a presented access token resolved. */
export type TokenState = 'valid' | 'expired' | 'revoked' | 'unknown';

/** Result of looking up a presented access token. */
export interface ResolvedToken {
  state: TokenState;
  authorization: SimAuthorization | null;
  accessToken: SimAccessToken | null;
}

/** Looks up an access token and says whether it may be used right now. */
export function resolveAccessToken(store: SimStore, token: string, now: number): ResolvedToken {
  const accessToken = store.accessTokens.get(token) ?? null;
  const authorization = accessToken ? (store.authorizations.get(accessToken.authorizationId) ?? null) : null;
  if (!accessToken || !authorization) return { state: 'unknown', authorization: null, accessToken: null };
  if (authorization.revokedAt !== null) return { state: 'revoked', authorization, accessToken };
  if (accessToken.expiresAt <= now) return { state: 'expired', authorization, accessToken };
  return { state: 'valid', authorization, accessToken };
}
