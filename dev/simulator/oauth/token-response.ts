import type { SimAccessToken, SimAuthorization } from '../state/types.ts';

/** Body of a successful `/oauth/token` answer (contract §3.1). */
export interface TokenResponse {
  access_token: string;
  expires_in: number;
  refresh_token: string;
  token_type: 'Bearer';
  user_id: string;
  session_nonce: string;
}

/** Builds the token answer in Heroku's shape. */
export function tokenResponse(authorization: SimAuthorization, access: SimAccessToken, now: number): TokenResponse {
  return {
    access_token: access.token,
    expires_in: Math.max(0, Math.floor((access.expiresAt - now) / 1000)),
    refresh_token: authorization.refreshToken ?? '',
    token_type: 'Bearer',
    user_id: authorization.userId,
    session_nonce: authorization.sessionNonce,
  };
}
