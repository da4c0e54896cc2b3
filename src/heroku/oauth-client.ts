import type { SecretBox } from '../crypto/secret-box.ts';
/** Tokens from id.heroku.com. */
export interface TokenSet {
  accessToken: string;
  refreshToken: string;
  expiresAt: Date;
}

/** id.heroku.com refused the code or refresh token: retrying the same request cannot succeed. */
export class OAuthRejectedError extends Error {
  readonly status: number;
  constructor(status: number, detail: string) {
    super(`Heroku refused the OAuth request (${status}${detail ? `: ${detail}` : ''})`);
    this.name = 'OAuthRejectedError';
    this.status = status;
  }
}

/** id.heroku.com could not be reached or failed; the same request may succeed later. */
export class OAuthUnavailableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'OAuthUnavailableError';
  }
}

/** Exchanges a provision grant code for the resource's partner tokens (codes expire about 5 minutes after issue). */
export function exchangeGrantCode(
  oauthUrl: string,
  code: string,
  clientSecret: string,
  now = new Date(),
): Promise<TokenSet> {
  return requestToken(oauthUrl, { grant_type: 'authorization_code', code, client_secret: clientSecret }, now);
}

/** Trades a refresh token for a new access token (Heroku may also return a new refresh token). */
export function refreshAccessToken(
  oauthUrl: string,
  refreshToken: string,
  clientSecret: string,
  now = new Date(),
): Promise<TokenSet> {
  return requestToken(
    oauthUrl,
    { grant_type: 'refresh_token', refresh_token: refreshToken, client_secret: clientSecret },
    now,
    refreshToken,
  );
}

async function requestToken(
  oauthUrl: string,
  form: Record<string, string>,
  now: Date,
  previousRefresh?: string,
): Promise<TokenSet> {
  let response: Response;
  try {
    response = await fetch(new URL('/oauth/token', oauthUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      body: new URLSearchParams(form),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new OAuthUnavailableError(`could not reach Heroku's OAuth service: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const body = (await response.json().catch(() => ({}))) as Record<string, unknown>;
  if (response.status >= 500 || response.status === 429) {
    throw new OAuthUnavailableError(`Heroku's OAuth service answered ${response.status}`);
  }
  if (!response.ok) {
    // Heroku's error bodies carry an id and a message, never the secret we sent.
    const detail = [body.id, body.message].filter((part) => typeof part === 'string').join(': ');
    throw new OAuthRejectedError(response.status, detail);
  }
  const accessToken = body.access_token;
  const refreshToken = body.refresh_token ?? previousRefresh;
  const expiresIn = Number(body.expires_in);
  if (typeof accessToken !== 'string' || typeof refreshToken !== 'string' || !Number.isFinite(expiresIn)) {
    throw new OAuthUnavailableError("Heroku's OAuth service answered without the expected tokens");
  }
  return { accessToken, refreshToken, expiresAt: new Date(now.getTime() + expiresIn * 1000) };
}

/** A token set sealed for storage: each token bound to the resource and its column (see secret-box.ts). */
export function sealTokens(
  secrets: SecretBox,
  resourceId: string,
  tokens: TokenSet,
  columns: { access: string; refresh: string },
) {
  return {
    accessCiphertext: secrets.seal(tokens.accessToken, resourceId, columns.access),
    refreshCiphertext: secrets.seal(tokens.refreshToken, resourceId, columns.refresh),
    expiresAt: tokens.expiresAt,
  };
}
