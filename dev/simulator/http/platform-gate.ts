import type { RequestHandler } from 'express';
import type { SimContext } from '../context.ts';
import type { FaultTarget } from '../faults.ts';
import { HerokuError } from './errors.ts';

const VERSION_3 = /application\/vnd\.heroku\+json;\s*version=3/i;

/**
 * Notes Platform API calls without `Accept: application/vnd.heroku+json; version=3`. Heroku pins the
 * API version by that header; a client that forgets it is relying on a default that can change.
 */
export function requireApiVersion(ctx: SimContext): RequestHandler {
  return (req, _res, next) => {
    const accept = req.get('accept') ?? '';
    if (!VERSION_3.test(accept)) {
      ctx.log.violation(
        ctx.now(),
        'missing-api-version-header',
        `${req.method} ${req.originalUrl} sent Accept: ${accept || '(none)'}`,
        null,
      );
    }
    next();
  };
}

/** Answers with an injected failure (429 + Retry-After, or a 5xx) when one is pending. */
export function injectFaults(ctx: SimContext, target: FaultTarget): RequestHandler {
  return (_req, _res, next) => {
    const fault = ctx.faults.take(target);
    if (!fault) return next();
    if (fault.status === 429) {
      const retry = String(fault.retryAfterSeconds ?? 1);
      return next(
        new HerokuError(
          429,
          'rate_limit',
          'Your account reached the API rate limit. Please wait a few minutes before making new requests.',
          { 'Retry-After': retry },
        ),
      );
    }
    next(
      new HerokuError(
        fault.status,
        'service_unavailable',
        'The service is temporarily unavailable (injected by the simulator).',
      ),
    );
  };
}
