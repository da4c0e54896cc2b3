import express, { type Express } from 'express';
import { consoleRoutes } from '../console/routes.ts';
import type { SimContext } from '../context.ts';
import type { AddonManagerDriver } from '../manager/driver.ts';
import { authorizeRoutes } from '../oauth/authorize-routes.ts';
import { tokenRoutes } from '../oauth/token-routes.ts';
import { accountRoutes } from '../platform/account-routes.ts';
import { addonRoutes } from '../platform/addon-routes.ts';
import { addonWriteRoutes } from '../platform/addon-write-routes.ts';
import { appRoutes } from '../platform/app-routes.ts';
import { appWriteRoutes } from '../platform/app-write-routes.ts';
import { attachmentRoutes } from '../platform/attachment-routes.ts';
import { ssoRoutes } from '../sso/routes.ts';
import { authenticate } from './authenticate.ts';
import { errorHandler, notFoundHandler } from './errors.ts';
import { injectFaults, requireApiVersion } from './platform-gate.ts';
import { recordRequests } from './record-requests.ts';
import { logplexRoutes } from '../logplex/routes.ts';

/** The simulator's HTTP app: api.heroku.com, id.heroku.com, the SSO pages and the console on one origin. */
export function createSimulatorApp(ctx: SimContext, driver: AddonManagerDriver): Express {
  const app = express();
  app.disable('x-powered-by');
  // Logplex is another Heroku service (its own host in production): its input keeps its own record of
  // what add-ons wrote (store.logLines), apart from the API and id.heroku.com requests logged below.
  app.use(logplexRoutes(ctx));
  app.use(recordRequests(ctx));
  app.use(consoleRoutes(ctx, driver));
  app.use(tokenRoutes(ctx));
  app.use(authorizeRoutes(ctx));
  // Every Platform API path: version check, injected faults, then a live token.
  app.use(
    ['/account', '/addons', '/addon-attachments', '/apps'],
    requireApiVersion(ctx),
    injectFaults(ctx, 'api'),
    authenticate(ctx),
  );
  app.use(ssoRoutes(ctx));
  app.use(accountRoutes(ctx));
  app.use(addonRoutes(ctx));
  app.use(addonWriteRoutes(ctx, driver));
  app.use(appRoutes(ctx));
  app.use(appWriteRoutes(ctx, driver));
  app.use(attachmentRoutes(ctx));
  app.use(notFoundHandler);
  app.use(errorHandler);
  return app;
}
