import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { sessionCookieName } from '../sso/session.ts';
import { fmt } from './format.ts';
import { backupPages } from './backup-pages.ts';
import { settingsPages } from './settings-pages.ts';
import { auditPage } from './audit-page.ts';
import { preflightPage } from './preflight-page.ts';
import { notificationsPage } from './notifications-page.ts';

/** The customer's dashboard pages, reached by single sign-on. */
export function dashboardRoutes(deps: AppDeps): Router {
  const router = Router();
  router.use((_req, res, next) => {
    res.locals.fmt = fmt;
    next();
  });

  router.get('/', (req, res) => {
    if (req.user?.resource) return res.redirect(303, '/dashboard');
    res.render('landing', { title: 'big-backup' });
  });

  router.get('/r/:id', (_req, res) => res.render('landing', { title: 'big-backup' }));

  // The pre-flight page first: it also adds the report's summary to GET /dashboard, then passes it on.
  router.use(preflightPage(deps), backupPages(deps), settingsPages(deps), auditPage(deps));
  router.use(notificationsPage(deps));

  router.post('/logout', sameOrigin(deps.config.PUBLIC_URL), (req, res, next) => {
    req.logout((error) => {
      if (error) return next(error);
      req.session.destroy(() =>
        res
          .clearCookie(sessionCookieName(deps.config.PUBLIC_URL), { path: '/' })
          .render('signed-out', { title: 'Signed out' }),
      );
    });
  });

  return router;
}
