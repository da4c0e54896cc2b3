import { Router, json } from 'express';
import type { AppDeps } from '../deps.ts';
import { apiAuthentication } from '../middleware/api-auth.ts';
import { csrfProtection } from '../middleware/csrf.ts';
import { apiAddressLimit, apiResourceLimit, RATE_LIMITS } from '../rate-limits.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { notFound } from '../../errors.ts';
import { tokensApi } from './tokens-api.ts';
import { linksApi } from './links-api.ts';
import { backupsApi } from './backups-api.ts';
import { settingsApi } from './settings-api.ts';
import { preflightApi } from './preflight-api.ts';
import { notificationsApi } from './notifications-api.ts';

/**
 * The JSON API under `/api/v1`, for scripts and CI ("back up before this deploy"). The dashboard's pages
 * call the same service functions, so the two cannot drift. Errors are `{ code, message, fields? }`;
 * past a rate limit (rate-limits.ts) 429 `rate_limited` with Retry-After.
 * Each area adds its router to the list below.
 */
export function apiRoutes(deps: AppDeps): Router {
  const router = Router();
  const limits = deps.rateLimits ?? RATE_LIMITS;
  // A session-authenticated call rides on the browser's cookie, so it must come from our own pages; a
  // script's API token is no cookie another site could ride on (and scripts send no Origin).
  const fromOurPages = sameOrigin(deps.config.PUBLIC_URL);
  // Per address before anything else (wrong tokens count too), per add-on once the caller is known.
  router.use(
    apiAddressLimit(deps.pool, limits),
    json({ limit: '64kb' }),
    apiAuthentication(deps),
    apiResourceLimit(deps.pool, limits),
    (req, res, next) => (req.apiToken ? next() : fromOurPages(req, res, next)),
    csrfProtection,
  );
  router.get('/me', (req, res) => {
    const { resource, user } = req.viewer;
    res.json({
      resource: { id: resource.id, name: resource.name, app: resource.appName, plan: resource.plan },
      actor: { email: user.email, role: user.role, via: req.apiToken ? 'api_token' : 'session' },
    });
  });
  for (const area of [backupsApi, settingsApi, tokensApi, linksApi, preflightApi, notificationsApi])
    router.use(area(deps));
  router.use((_req, _res, next) => next(notFound('API route')));
  return router;
}
