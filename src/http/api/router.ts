import { Router, json } from 'express';
import type { AppDeps } from '../deps.ts';
import { apiAuthentication } from '../middleware/api-auth.ts';
import { csrfProtection } from '../middleware/csrf.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { notFound } from '../../errors.ts';
import { tokensApi } from './tokens-api.ts';
import { linksApi } from './links-api.ts';
import { backupsApi } from './backups-api.ts';
import { settingsApi } from './settings-api.ts';

/**
 * The JSON API under `/api/v1`, for scripts and CI ("back up before this deploy"). The dashboard's pages
 * call the same service functions, so the two cannot drift. Errors are `{ code, message, fields? }`.
 * Each area adds its router to the list below.
 */
export function apiRoutes(deps: AppDeps): Router {
  const router = Router();
  // A session-authenticated call rides on the browser's cookie, so it must come from our own pages; a
  // script's API token is no cookie another site could ride on (and scripts send no Origin).
  const fromOurPages = sameOrigin(deps.config.PUBLIC_URL);
  router.use(
    json({ limit: '64kb' }),
    apiAuthentication(deps),
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
  for (const area of [backupsApi, settingsApi, tokensApi, linksApi]) router.use(area(deps));
  router.use((_req, _res, next) => next(notFound('API route')));
  return router;
}
