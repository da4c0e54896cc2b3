import type { RequestHandler } from 'express';
import { forbidden } from '../../errors.ts';

/**
 * Refuses state-changing requests that a browser says came from another site. Browsers send Origin on
 * every cross-origin POST (and Sec-Fetch-Site), and the session cookie is SameSite=Lax, so together
 * they stop cross-site form posts.
 */
export function sameOrigin(publicUrl: string): RequestHandler {
  const allowed = new URL(publicUrl).origin;
  return (req, _res, next) => {
    if (req.method === 'GET' || req.method === 'HEAD' || req.method === 'OPTIONS') return next();
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    if ((origin && origin !== allowed) || (!origin && site && site !== 'same-origin') || (!origin && !site)) {
      req.log.warn({ origin, site }, 'cross-site request refused');
      return next(forbidden('This request did not come from the big-backup dashboard.'));
    }
    next();
  };
}
