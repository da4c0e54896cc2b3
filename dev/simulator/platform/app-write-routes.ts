import express, { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { HerokuError, forbidden, invalidParams } from '../http/errors.ts';
import type { AddonManagerDriver } from '../manager/driver.ts';
import { destroyPostgresAddon } from '../postgres/addons.ts';
import { ensureApp } from '../state/apps.ts';
import { findApp } from '../state/store.ts';
import { loadApp, requireAppWrite, requireUserToken } from './access.ts';
import { appJson } from './serialize.ts';

const APP_NAME = /^[a-z][a-z0-9-]{1,28}[a-z0-9]$/;
const REGIONS = ['us', 'eu'];

/** `POST /apps` (the user becomes owner) and `DELETE /apps/{app}` (owner only; its add-ons go with it). Mount behind authenticate. */
export function appWriteRoutes(ctx: SimContext, driver: AddonManagerDriver): Router {
  const router = Router();

  router.post('/apps', express.json(), (req, res) => {
    const p = principal(res);
    requireUserToken(p, 'create apps');
    if (!p.authorization.scopes.some((s) => ['global', 'write', 'write-protected'].includes(s)))
      throw forbidden('This OAuth authorization lacks a write scope.');
    const body = (req.body ?? {}) as { name?: unknown; region?: unknown };
    if (body.name !== undefined && body.name !== null && (typeof body.name !== 'string' || !APP_NAME.test(body.name))) {
      throw invalidParams(
        'Name must start with a letter, end with a letter or digit and can only contain lowercase letters, digits, and dashes.',
      );
    }
    if (typeof body.name === 'string' && findApp(ctx.store, body.name))
      throw invalidParams(`Name ${body.name} is already taken`);
    const region = typeof body.region === 'string' ? body.region : 'us';
    if (!REGIONS.includes(region)) throw new HerokuError(404, 'not_found', "Couldn't find that region.");
    const owner = ctx.store.users.get(p.authorization.userId);
    const app = ensureApp(
      ctx.store,
      {
        ...(typeof body.name === 'string' ? { name: body.name } : {}),
        owner: owner?.email ?? p.authorization.userId,
        collaborators: [],
        region,
      },
      ctx.now(),
    );
    res.status(201).json(appJson(ctx, app));
  });

  router.delete('/apps/:app', async (req, res) => {
    const app = loadApp(ctx, req.params.app);
    const p = principal(res);
    requireAppWrite(ctx, p, app, 'delete apps');
    if (app.ownerId !== p.authorization.userId) throw forbidden('Only the app owner may delete the app.');
    const body = appJson(ctx, app);
    for (const addon of [...ctx.store.addons.values()]) {
      if (addon.appId !== app.id || addon.state === 'deprovisioned') continue;
      if (addon.postgres) await destroyPostgresAddon(ctx, addon);
      else await driver.deprovision(addon.id);
    }
    for (const attachment of [...ctx.store.attachments.values()])
      if (attachment.appId === app.id) ctx.store.attachments.delete(attachment.id);
    ctx.store.apps.delete(app.id);
    res.json(body);
  });

  return router;
}
