import { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { forbidden, HerokuError, notFound } from '../http/errors.ts';
import { isCollaborator } from '../state/apps.ts';
import { findServiceAddon } from '../state/store.ts';
import { loadApp } from '../platform/access.ts';
import { buildSsoForm, SSO_VARIANTS, type SsoFormOptions, type SsoVariant } from './form.ts';
import { autoSubmitPage } from './page.ts';

/**
 * `GET /sso/{addon}?user=&variant=&context_app=`: the auto-posting page (what the add-on's `web_url`
 * opens), and `GET /apps/{app}/addons/{addon}/sso`: the CLI's 3.sdk JSON for a user token. The
 * second is a Platform API path: mount this router where `/apps` is already behind authenticate.
 */
export function ssoRoutes(ctx: SimContext): Router {
  const router = Router();

  router.get('/sso/:addon', (req, res) => {
    if (!findServiceAddon(ctx.store, req.params.addon)) throw notFound('add-on');
    res.type('html').send(autoSubmitPage(buildSsoForm(ctx, req.params.addon, formOptions(req.query))));
  });

  router.get('/apps/:app/addons/:addon/sso', (req, res) => {
    const p = principal(res);
    if (p.authorization.kind !== 'user') throw forbidden('Single sign-on needs a user token.');
    const app = loadApp(ctx, req.params.app);
    const addon = findServiceAddon(ctx.store, req.params.addon);
    if (!addon || addon.appId !== app.id || addon.state === 'deprovisioned') throw notFound('add-on');
    if (!isCollaborator(app, p.authorization.userId)) throw forbidden('You do not have access to this app.');
    res.json(buildSsoForm(ctx, addon.id, { user: p.authorization.userId }));
  });

  return router;
}

function formOptions(query: Record<string, unknown>): SsoFormOptions {
  const opts: SsoFormOptions = {};
  if (typeof query.user === 'string' && query.user) opts.user = query.user;
  if (typeof query.context_app === 'string' && query.context_app) opts.contextApp = query.context_app;
  if (typeof query.variant === 'string' && query.variant) {
    if (!(SSO_VARIANTS as readonly string[]).includes(query.variant)) {
      throw new HerokuError(400, 'bad_request', `variant must be one of ${SSO_VARIANTS.join(', ')}`);
    }
    opts.variant = query.variant as SsoVariant;
  }
  return opts;
}
