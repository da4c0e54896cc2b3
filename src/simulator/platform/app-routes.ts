import { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { loadApp, requireAppRead, requireConfigVarsRead } from './access.ts';
import { addonJson, appJson, collaboratorJson } from './serialize.ts';

/** `/apps/...`: app metadata a partner may read, and config vars it may not (contract §4). Mount behind authenticate. */
export function appRoutes(ctx: SimContext): Router {
  const router = Router();

  router.get('/apps/:app', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    requireAppRead(ctx, principal(res), app);
    res.json(appJson(ctx, app));
  });

  router.get('/apps/:app/config-vars', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    requireConfigVarsRead(ctx, principal(res), app);
    res.json(app.configVars);
  });

  router.get('/apps/:app/collaborators', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    requireAppRead(ctx, principal(res), app);
    res.json(app.collaboratorIds.map((userId) => collaboratorJson(ctx, app, userId)));
  });

  router.get('/apps/:app/addons', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    const p = principal(res);
    requireAppRead(ctx, p, app);
    // Whether Heroku shows a partner other services' add-ons is unknown (§4.2); this simulator only
    // hosts one service, so a partner sees the live add-ons of that service on the app.
    const addons = [...ctx.store.addons.values()].filter((a) => a.appId === app.id && a.state !== 'deprovisioned');
    res.json(addons.map((a) => addonJson(ctx, a)));
  });

  return router;
}
