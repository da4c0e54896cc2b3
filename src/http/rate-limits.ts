import type { Request, RequestHandler } from 'express';
import { rateLimit } from 'express-rate-limit';
import type { Queryable } from '../db/pool.ts';
import { PgRateLimitStore } from './rate-limit-store.ts';
import { tooManyRequests } from '../errors.ts';

/** One limit: at most `limit` requests a key in a fixed window of `windowMs`. */
export interface RateLimit {
  windowMs: number;
  limit: number;
}

/** The limits on the API and on dashboard writes; the web process uses RATE_LIMITS, tests may pass smaller ones. */
export interface RateLimits {
  /** Every `/api/v1` request of one add-on, by token or by session. */
  apiPerResource: RateLimit;
  /** Every `/api/v1` request from one client address, authenticated or not. */
  apiPerAddress: RateLimit;
  /** Dashboard form posts (state-changing page routes) of one add-on. */
  writesPerResource: RateLimit;
  /** Dashboard form posts from one client address. */
  writesPerAddress: RateLimit;
}

/**
 * A script polling a backup every second uses 60 a minute, the dashboard's own progress polling 40 per
 * open tab; 300 leaves room for several of each while a loop gone wrong cannot take a web process's time.
 * An address gets twice that, for an office or CI runner behind one NAT working on two add-ons. People
 * submit a form every few seconds at most: 30 a minute per add-on, 60 per address.
 */
export const RATE_LIMITS: RateLimits = {
  apiPerResource: { windowMs: 60_000, limit: 300 },
  apiPerAddress: { windowMs: 60_000, limit: 600 },
  writesPerResource: { windowMs: 60_000, limit: 30 },
  writesPerAddress: { windowMs: 60_000, limit: 60 },
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * One limiter counted in PostgreSQL (one limit across web processes). Past it: 429 with Retry-After
 * and the standard RateLimit headers, answered by the error handler (JSON `rate_limited` under
 * /api, a page elsewhere). Without `keyOf`, keyed on req.ip, which `trust proxy` = 1 takes from the
 * hop Heroku's router appended, so a client-sent X-Forwarded-For does not get round it.
 */
function limiter(
  db: Queryable,
  prefix: string,
  limit: RateLimit,
  message: string,
  options: { keyOf?: (req: Request) => string | undefined; skip?: (req: Request) => boolean } = {},
): RequestHandler {
  const { keyOf, skip } = options;
  // A request without the key (no viewer) is not counted by a keyed limiter; another one refuses it.
  const skipped = (req: Request) => (skip?.(req) ?? false) || (keyOf !== undefined && keyOf(req) === undefined);
  return rateLimit({
    ...limit,
    store: new PgRateLimitStore(db, prefix),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    skip: skipped,
    ...(keyOf ? { keyGenerator: (req: Request) => keyOf(req) ?? '' } : {}),
    handler: (_req, _res, next) => next(tooManyRequests(message)),
  });
}

const API_MESSAGE = 'Too many API requests. Wait for the number of seconds in the Retry-After header, then try again.';
const WRITES_MESSAGE = 'Too many changes in a short time. Wait a minute, then try again.';

/** Per address, before authentication: counts every request, including ones with a wrong token. */
export function apiAddressLimit(db: Queryable, limits: RateLimits): RequestHandler {
  return limiter(db, 'api-ip:', limits.apiPerAddress, API_MESSAGE);
}

/** Per add-on, after authentication (`req.viewer`): one count for all its tokens and sessions. */
export function apiResourceLimit(db: Queryable, limits: RateLimits): RequestHandler {
  return limiter(db, 'api-resource:', limits.apiPerResource, API_MESSAGE, {
    keyOf: (req) => (req as Partial<Request>).viewer?.resource.id,
  });
}

/**
 * Dashboard form posts: per address, and per add-on of the signed-in session (a request without one
 * is refused by requireSession anyway). Pages that only show are not limited here.
 */
export function dashboardWriteLimits(db: Queryable, limits: RateLimits): RequestHandler[] {
  const reads = (req: Request) => SAFE_METHODS.has(req.method);
  return [
    limiter(db, 'writes-ip:', limits.writesPerAddress, WRITES_MESSAGE, { skip: reads }),
    limiter(db, 'writes-resource:', limits.writesPerResource, WRITES_MESSAGE, {
      skip: reads,
      keyOf: (req) => req.user?.resource?.id,
    }),
  ];
}
