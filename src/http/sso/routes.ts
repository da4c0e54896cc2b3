import { Router, urlencoded, type RequestHandler } from 'express';
import type { Passport } from 'passport';
import { rateLimit } from 'express-rate-limit';
import { AppError, forbidden, tooManyRequests } from '../../errors.ts';
import type { Queryable } from '../../db/pool.ts';
import { PgRateLimitStore } from '../rate-limit-store.ts';
import { formField } from '../form-body.ts';

/** Sign-on attempts per client IP per minute: a person opens the dashboard a few times, never dozens. */
export const SSO_RATE_LIMIT = { windowMs: 60_000, limit: 60 } as const;

/**
 * POST /sso/login: Heroku's browser form post. Success regenerates the session (passport does, which
 * defeats session fixation), binds it to the resource and user, and redirects to the dashboard.
 */
export function ssoRoutes(
  passport: InstanceType<typeof Passport>,
  options: { secureCookies: boolean; db: Queryable },
): Router {
  const router = Router();
  // Keyed on req.ip (trust proxy = 1: the address Heroku's router saw), so a forged X-Forwarded-For
  // does not reset it. Counted in PostgreSQL: one limit for all web processes.
  const limiter = rateLimit({
    ...SSO_RATE_LIMIT,
    store: new PgRateLimitStore(options.db, 'sso:'),
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    handler: (_req, _res, next) =>
      next(
        tooManyRequests(
          'Too many sign-in attempts from your address. Wait a minute, then open big-backup again from Heroku.',
        ),
      ),
  });
  router.post('/sso/login', limiter, urlencoded({ extended: false, limit: '16kb' }), (req, res, next) => {
    // @types/passport types the middleware authenticate() returns as any.
    (
      passport.authenticate(
        'heroku-sso',
        (error: unknown, user: Express.User | false, info: { message?: string } | undefined) => {
          if (error) return next(error);
          if (!user) {
            req.log.warn({ reason: info?.message }, 'single sign-on refused');
            return next(
              forbidden(
                "This sign-in link is invalid or has expired. Open big-backup again from your app's Resources tab on the Heroku dashboard.",
              ),
            );
          }
          req.logIn(user, (loginError) => {
            if (loginError) return next(loginError);
            req.session.signedInAt = Date.now();
            const navData = formField(req, 'nav-data');
            if (navData && navData.length < 4096) {
              res.cookie('heroku-nav-data', navData, { sameSite: 'lax', secure: options.secureCookies, path: '/' });
            }
            req.log.info({ resourceId: (user as { resourceId?: string }).resourceId }, 'single sign-on accepted');
            // Sent only once the session is saved (redirect-after-save.ts).
            res.redirect(303, '/dashboard');
          });
        },
      ) as RequestHandler
    )(req, res, next);
  });
  router.all('/sso/login', (_req, res, next) => {
    res.set('Allow', 'POST');
    next(
      new AppError(
        'method_not_allowed',
        405,
        "Single sign-on happens by a form post from Heroku. Open big-backup from your app's Resources tab on the Heroku dashboard.",
      ),
    );
  });
  return router;
}
