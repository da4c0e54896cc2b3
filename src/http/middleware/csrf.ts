import { randomBytes } from 'node:crypto';
import { sameSecret } from '../../crypto/same-secret.ts';
import type { RequestHandler } from 'express';
import { AppError } from '../../errors.ts';
import { formField } from '../form-body.ts';

declare module 'express-session' {
  interface SessionData {
    csrfToken?: string;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Synchronizer-token CSRF protection for everything a signed-in browser can change. The token lives in
 * the session; pages put it in `res.locals.csrfToken` for a hidden `_csrf` form field, and scripts send
 * it as `X-CSRF-Token` (pages expose it in `<meta name="csrf-token">`). Requests authenticated by an API
 * token carry no cookie a third-party site could ride on, so they are exempt. Mount after body parsing.
 */
export const csrfProtection: RequestHandler = (req, res, next) => {
  if (req.apiToken) return next();
  const session = req.session;
  if (session && !session.csrfToken && req.user) session.csrfToken = randomBytes(32).toString('base64url');
  res.locals.csrfToken = session?.csrfToken ?? '';
  if (SAFE_METHODS.has(req.method)) return next();
  const sent = req.get('x-csrf-token') ?? formField(req, '_csrf');
  if (!session?.csrfToken || !sent || !sameSecret(sent, session.csrfToken)) {
    req.log.warn({ path: req.path }, 'csrf token missing or wrong');
    return next(
      new AppError(
        'csrf_failed',
        403,
        'This form has expired or did not come from the big-backup dashboard. Reload the page and try again.',
      ),
    );
  }
  next();
};
