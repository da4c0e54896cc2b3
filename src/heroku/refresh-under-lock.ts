import type pg from 'pg';
import { withTransaction, type Queryable } from '../db/pool.ts';
import type { SecretBox } from '../crypto/secret-box.ts';
import { refreshAccessToken, sealTokens, OAuthRejectedError, type TokenSet } from './oauth-client.ts';

// Refresh ahead of expiry so a call never starts with a token about to lapse mid-flight.
const REFRESH_MARGIN_MS = 5 * 60_000;

/** Whether an access token expiring at `expiresAt` is still good for a call that starts at `now`. */
export function stillFresh(expiresAt: Date, now: Date): boolean {
  return expiresAt.getTime() - now.getTime() > REFRESH_MARGIN_MS;
}

/** A grant's sealed tokens, as its row holds them. */
export interface SealedGrant {
  accessTokenCiphertext: string;
  refreshTokenCiphertext: string;
  accessTokenExpiresAt: Date;
}

/** One stored OAuth grant (the add-on's partner grant, or a customer's connected account) and how to keep it. */
export interface GrantRefresh {
  pool: pg.Pool;
  secrets: SecretBox;
  resourceId: string;
  /** Sealed-column names, part of each ciphertext's authenticated data. */
  sealed: { access: string; refresh: string };
  oauthUrl: string;
  clientSecret: string;
  now: Date;
  /** Reads the grant's row `for update` in the transaction: its tokens, or why it cannot be used. */
  lock(tx: Queryable): Promise<SealedGrant | { unusable: string }>;
  /** Stores the refreshed tokens, sealed. */
  store(tx: Queryable, tokens: ReturnType<typeof sealTokens>): Promise<void>;
  /** Records that Heroku refused the refresh token, and returns the reason to report. */
  refused(tx: Queryable, error: OAuthRejectedError): Promise<string>;
}

/**
 * A usable access token, refreshed under the grant's row lock: two workers refreshing at once could
 * each get a token, and if Heroku rotates refresh tokens the loser's stored refresh token would be
 * dead. Whoever waited for the lock uses the token the other stored, unless `force`d because Heroku
 * rejected exactly that token (`rejected`). A grant that is not usable, or whose refresh Heroku
 * refuses, answers `{ unavailable }`; the refusal is recorded in the transaction, which commits.
 * An unreachable id.heroku.com throws, and nothing is written.
 */
export async function refreshUnderLock(
  grant: GrantRefresh,
  options: { force: boolean; rejected?: string },
): Promise<{ token: string } | { unavailable: string }> {
  return withTransaction(grant.pool, async (tx) => {
    const locked = await grant.lock(tx);
    if ('unusable' in locked) return { unavailable: locked.unusable };
    const stored = grant.secrets.open(locked.accessTokenCiphertext, grant.resourceId, grant.sealed.access);
    // Someone else refreshed while we waited for the lock.
    if (stillFresh(locked.accessTokenExpiresAt, grant.now) && (!options.force || stored !== options.rejected))
      return { token: stored };
    const refreshToken = grant.secrets.open(locked.refreshTokenCiphertext, grant.resourceId, grant.sealed.refresh);
    let tokens: TokenSet;
    try {
      tokens = await refreshAccessToken(grant.oauthUrl, refreshToken, grant.clientSecret, grant.now);
    } catch (error) {
      // Recorded in this transaction, which must commit, so the refusal is reported only after it.
      if (error instanceof OAuthRejectedError) return { unavailable: await grant.refused(tx, error) };
      throw error;
    }
    await grant.store(tx, sealTokens(grant.secrets, grant.resourceId, tokens, grant.sealed));
    return { token: tokens.accessToken };
  });
}
