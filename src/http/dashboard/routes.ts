import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { findPlan } from '../../resources/plans.ts';
import { findAuthorization } from '../../heroku/authorizations.repo.ts';
import { sessionCookieName } from '../sso/session.ts';
import { listResourceBackups } from '../../backups/backups.repo.ts';
import { forkTimings } from '../../backups/backup.ts';
import { findSourceSetting } from '../../backups/sources.repo.ts';
import { findConnection } from '../../heroku/connect-connections.repo.ts';

/** The customer's dashboard pages, reached by single sign-on. */
export function dashboardRoutes(deps: AppDeps): Router {
  const router = Router();

  router.get('/', (req, res) => {
    if (req.user?.resource) return res.redirect(303, '/dashboard');
    res.render('landing', { title: 'big-backup' });
  });

  router.get('/r/:id', (_req, res) => res.render('landing', { title: 'big-backup' }));

  router.get('/dashboard', requireSession, async (req, res) => {
    const { resource, user } = req.viewer;
    const [authorization, connection, source, backups] = await Promise.all([
      findAuthorization(deps.pool, resource.id), findConnection(deps.pool, resource.id),
      findSourceSetting(deps.pool, resource.id), listResourceBackups(deps.pool, resource.id, 20),
    ]);
    res.render('dashboard', {
      title: `${resource.appName ?? resource.name} · big-backup`,
      resource, user, plan: findPlan(resource.plan)!,
      authorizationStatus: authorization?.status ?? 'pending',
      connection, source, forkTimings,
      backups,
    });
  });

  router.post('/logout', sameOrigin(deps.config.PUBLIC_URL), (req, res, next) => {
    req.logout((error) => {
      if (error) return next(error);
      req.session.destroy(() => res.clearCookie(sessionCookieName(deps.config.PUBLIC_URL), { path: '/' }).render('signed-out', { title: 'Signed out' }));
    });
  });

  return router;
}
