import { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { notFound } from '../http/errors.ts';
import { findAddon } from '../state/store.ts';
import { loadApp, requireAppRead, requireConfigVarsRead } from './access.ts';
import { addonJson, appJson, collaboratorJson } from './serialize.ts';

/** `/apps/...`: app metadata a partner may read, and config vars it may not (contract §4). Mount behind authenticate. */
export function appRoutes(ctx: SimContext): Router {
  const router = Router();

  router.get('/apps', (_req, res) => {
    const p = principal(res);
    // A user sees the apps they collaborate on; a partner the apps its add-on is on (contract §4.2).
    const visible = [...ctx.store.apps.values()].filter((app) => {
      try {
        requireAppRead(ctx, p, app);
        return true;
      } catch {
        return false;
      }
    });
    res.json(visible.map((app) => appJson(ctx, app)));
  });

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
    // Whether Heroku shows a partner other services' add-ons is unknown (§4.2); here it sees every live
    // add-on on the app, Heroku Postgres included (names and attachments only, never URLs).
    const addons = [...ctx.store.addons.values()].filter((a) => a.appId === app.id && a.state !== 'deprovisioned');
    res.json(addons.map((a) => addonJson(ctx, a)));
  });

  // What `heroku addons:create --wait` polls; 404 once the add-on is gone (contract §5.3, §5.5).
  router.get('/apps/:app/addons/:addon', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    requireAppRead(ctx, principal(res), app);
    const addon = findAddon(ctx.store, req.params.addon);
    if (!addon || addon.appId !== app.id || addon.state === 'deprovisioned') throw notFound('add-on');
    res.json(addonJson(ctx, addon));
  });

  return router;
}
