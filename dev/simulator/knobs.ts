import type { SimContext } from './context.ts';
import type { FaultTarget } from './faults.ts';
import { revokeAuthorization } from './state/authorizations.ts';
import { findAddon, findUser } from './state/store.ts';

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
  /** Forks created from now on stay `provisioning` forever (until reset()). */
  forkNeverReady(): void;
  /** Forks created from now on are deprovisioned (then 404) half-way through their wait, before becoming ready (until reset()). */
  deprovisionForksWhileWaiting(): void;
  /** Forks created from now on become ready, but their URL names a port nothing listens on, like a database on a private network (until reset()). */
  forkUnreachable(): void;
  /** The next fork is created, but the request that created it answers 503, as when Heroku's reply is lost. */
  loseNextForkReply(): void;
  /**
   * Revokes every OAuth authorization the user has granted so far: their access tokens get 401 and
   * refresh answers `invalid_grant`. Authorizations granted afterwards (a reconnect) work. Returns how many.
   */
  revokeUserAuthorizations(email: string): number;
  /** Drops pending request failures and the fork fault. */
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
    rateLimitNext: (count, retryAfterSeconds = 1, target = 'api') =>
      ctx.faults.rateLimitNext(count, retryAfterSeconds, target),
    revokeAuthorization: (idOrName) => revokeAuthorization(ctx.store, authorizationOf(idOrName), ctx.now()),
    expireAccessTokens: (idOrName) => {
      const authorizationId = authorizationOf(idOrName);
      let count = 0;
      for (const token of ctx.store.accessTokens.values()) {
        if (token.authorizationId === authorizationId && token.expiresAt > ctx.now()) {
          token.expiresAt = ctx.now();
          count++;
        }
      }
      return count;
    },
    forkNeverReady: () => {
      ctx.faults.forkFault = 'never-ready';
    },
    deprovisionForksWhileWaiting: () => {
      ctx.faults.forkFault = 'vanish';
    },
    forkUnreachable: () => {
      ctx.faults.forkFault = 'unreachable';
    },
    loseNextForkReply: () => {
      ctx.faults.loseNextForkReply = true;
    },
    revokeUserAuthorizations: (email) => {
      const user = findUser(ctx.store, email);
      if (!user) throw new Error(`simulator: no user ${email}`);
      let count = 0;
      for (const authorization of ctx.store.authorizations.values()) {
        if (authorization.kind === 'user' && authorization.userId === user.id && authorization.revokedAt === null) {
          revokeAuthorization(ctx.store, authorization.id, ctx.now());
          count++;
        }
      }
      return count;
    },
    reset: () => ctx.faults.reset(),
  };
}
