import path from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { urlencoded, type Express } from 'express';
import helmet from 'helmet';
import type { AppDeps } from './deps.ts';
import { requestLog } from './middleware/request-log.ts';
import { herokuRoutes } from './heroku/routes.ts';
import { sessionMiddleware, servedOverTls } from './sso/session.ts';
import { ssoRoutes } from './sso/routes.ts';
import { dashboardRoutes } from './dashboard/routes.ts';
import { connectRoutes } from './connect/routes.ts';
import { apiRoutes } from './api/router.ts';
import { downloadRoutes } from './links/download-routes.ts';
import { csrfProtection } from './middleware/csrf.ts';
import { dashboardWriteLimits, RATE_LIMITS } from './rate-limits.ts';
import { errorHandler } from './error-handler.ts';
import { notFound } from '../errors.ts';
import { ping } from '../db/pool.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Builds the web application (no listen): middleware order, routers, 404 and the error handler. */
export function createApp(deps: AppDeps): Express {
  const app = express();
  const secure = servedOverTls(deps.config.PUBLIC_URL);
  // Heroku's router is the one proxy in front of us: trust exactly one hop for req.ip and req.secure.
  app.set('trust proxy', 1);
  app.set('view engine', 'ejs');
  app.set('views', path.join(ROOT, 'views'));
  app.disable('x-powered-by');

  app.use(requestLog(deps.logger));
  app.use(
    helmet({
      contentSecurityPolicy: {
        useDefaults: false,
        directives: {
          defaultSrc: ["'self'"],
          scriptSrc: ["'self'"],
          styleSrc: ["'self'"],
          imgSrc: ["'self'", 'data:'],
          objectSrc: ["'none'"],
          baseUri: ["'none'"],
          frameAncestors: ["'none'"],
          formAction: ["'self'"],
          ...(secure ? { upgradeInsecureRequests: [] } : {}),
        },
      },
      strictTransportSecurity: secure ? { maxAge: 31_536_000, includeSubDomains: true } : false,
      referrerPolicy: { policy: 'same-origin' },
    }),
  );

  app.get('/healthz', async (_req, res) => {
    await ping(deps.pool);
    res.json({ ok: true });
  });
  app.use('/static', express.static(path.join(ROOT, 'public'), { maxAge: '1h', index: false }));
  app.use('/heroku/resources', herokuRoutes(deps));
  app.use(downloadRoutes(deps));

  const sessions = sessionMiddleware(deps);
  app.use(sessions.middleware);
  app.use(ssoRoutes(sessions.passport, { secureCookies: secure, db: deps.pool }));
  app.use('/api/v1', apiRoutes(deps));
  // Every page route below: writes rate-limited, form bodies parsed once, and CSRF-checked when they change something.
  app.use(
    ...dashboardWriteLimits(deps.pool, deps.rateLimits ?? RATE_LIMITS),
    urlencoded({ extended: false, limit: '16kb' }),
    csrfProtection,
  );
  app.use(dashboardRoutes(deps));
  app.use(connectRoutes(deps));

  app.use((_req, _res, next) => next(notFound('Page')));
  app.use(errorHandler(deps.logger));
  return app;
}
