import { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { notFound } from '../http/errors.ts';
import { attachmentsOf } from '../state/store.ts';
import { loadAddon, loadApp, requireAddonRead, requireAppRead } from './access.ts';
import { attachmentJson } from './serialize.ts';

/** Add-on attachments: which add-on is on which app under which name (the `<NAME>_URL` prefix). Mount behind authenticate. */
export function attachmentRoutes(ctx: SimContext): Router {
  const router = Router();

  router.get('/apps/:app/addon-attachments', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    requireAppRead(ctx, principal(res), app);
    const attachments = [...ctx.store.attachments.values()].filter((a) => a.appId === app.id);
    res.json(attachments.map((a) => attachmentJson(ctx, a)));
  });

  router.get('/apps/:app/addon-attachments/:attachment', (req, res) => {
    const app = loadApp(ctx, req.params.app);
    requireAppRead(ctx, principal(res), app);
    const wanted = req.params.attachment;
    const attachment = [...ctx.store.attachments.values()].find(
      (a) => a.appId === app.id && (a.id === wanted || a.name === wanted),
    );
    if (!attachment) throw notFound('add-on attachment');
    res.json(attachmentJson(ctx, attachment));
  });

  router.get('/addon-attachments/:attachment', (req, res) => {
    const attachment = ctx.store.attachments.get(req.params.attachment);
    const app = attachment ? ctx.store.apps.get(attachment.appId) : undefined;
    if (!attachment || !app) throw notFound('add-on attachment');
    requireAppRead(ctx, principal(res), app);
    res.json(attachmentJson(ctx, attachment));
  });

  router.get('/addons/:addon/addon-attachments', (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    requireAddonRead(ctx, principal(res), addon);
    res.json(attachmentsOf(ctx.store, addon.id).map((a) => attachmentJson(ctx, a)));
  });

  return router;
}
