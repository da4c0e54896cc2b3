import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.ts';
import { AppError } from '../../errors.ts';
import { authenticateApiToken } from '../../api-tokens/api-tokens.service.ts';
import { findResource } from '../../resources/resources.repo.ts';
import { requireSession } from './require-session.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set when the request was authenticated by an API token rather than a session. */
    apiToken?: { id: string; name: string };
  }
}

/**
 * The API's door: `Authorization: Bearer bbk_...` for scripts, otherwise the dashboard's session (whose
 * state-changing requests then need the CSRF token). Either way `req.viewer` names one resource and a
 * role, and every query downstream is scoped to that resource.
 */
export function apiAuthentication(deps: AppDeps): RequestHandler {
  return (req, res, next) => {
    const header = req.get('authorization');
    if (!header) return requireSession(req, res, next);
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    const refuse = () =>
      next(
        new AppError(
          'invalid_token',
          401,
          "The API token is missing, malformed, revoked or unknown. Create a new one on the dashboard's API tokens page.",
        ),
      );
    if (!match) return refuse();
    authenticateApiToken(deps.pool, match[1]!, req.ip ?? null).then(async (token) => {
      if (!token) return refuse();
      const resource = await findResource(deps.pool, token.resourceId);
      if (!resource || resource.state !== 'provisioned') return refuse();
      req.apiToken = { id: token.id, name: token.name };
      req.viewer = {
        resource,
        user: { resourceId: resource.id, herokuUserId: token.id, email: `API token "${token.name}"`, role: token.role },
      };
      next();
    }, next);
  };
}

/** Lets through admins only (settings, sources, tokens); members may view, capture and download. */
export const requireAdmin: RequestHandler = (req, _res, next) => {
  if (req.viewer?.user.role === 'admin') return next();
  next(
    new AppError(
      'forbidden',
      403,
      'Only an admin of this add-on can change this. The first person to open the dashboard is its admin.',
    ),
  );
};
