import type { SimContext } from './context.ts';
import type { FaultTarget } from './faults.ts';
import { revokeAuthorization } from './state/authorizations.ts';
import { findAddon } from './state/store.ts';

/** Test knobs that make Heroku misbehave or move an add-on's credentials along. */
export interface SimFaultKnobs {
  /** The next `count` `/oauth/token` requests answer `status` (default 503) and consume nothing. */
  failNextTokenRequests(count: number, status?: number): void;
  /** The next `count` requests to the Platform API (or `/oauth/token`) answer 429 with `Retry-After`. */
  rateLimitNext(count: number, retryAfterSeconds?: number, target?: FaultTarget): void;
  /** Revokes the add-on's partner authorization: its tokens get 401 and refresh fails. */
  revokeAuthorization(addonIdOrName: string): void;
  /** Makes every access token of the add-on's authorization expire now; returns how many. Refresh still works. */
  expireAccessTokens(addonIdOrName: string): number;
  /** Drops pending request failures. */
  reset(): void;
}

/** Builds the knobs over the shared context. */
export function createFaultKnobs(ctx: SimContext): SimFaultKnobs {
  const authorizationOf = (idOrName: string): string => {
    const addon = findAddon(ctx.store, idOrName);
    if (!addon?.authorizationId) throw new Error(`simulator: add-on ${idOrName} has no partner authorization`);
    return addon.authorizationId;
  };
  return {
    failNextTokenRequests: (count, status = 503) => ctx.faults.failNextTokenRequests(count, status),
    rateLimitNext: (count, retryAfterSeconds = 1, target = 'api') => ctx.faults.rateLimitNext(count, retryAfterSeconds, target),
    revokeAuthorization: (idOrName) => revokeAuthorization(ctx.store, authorizationOf(idOrName), ctx.now()),
    expireAccessTokens: (idOrName) => {
      const authorizationId = authorizationOf(idOrName);
      let count = 0;
      for (const token of ctx.store.accessTokens.values()) {
        if (token.authorizationId === authorizationId && token.expiresAt > ctx.now()) { token.expiresAt = ctx.now(); count++; }
      }
      return count;
    },
    reset: () => ctx.faults.reset(),
  };
}
