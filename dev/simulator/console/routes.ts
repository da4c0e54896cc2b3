import express, { Router, type Response } from 'express';
import type { SimContext } from '../context.ts';
import type { AddonManagerDriver } from '../manager/driver.ts';
import { findServiceAddon } from '../state/store.ts';
import { consolePage } from './page.ts';

/**
 * The console at `/` and its admin routes under `/_sim/` (never a Heroku path). Buttons post here,
 * the driver talks to the provider, and the browser is sent back to `/` with a one-line summary.
 */
export function consoleRoutes(ctx: SimContext, driver: AddonManagerDriver): Router {
  const router = Router();
  const form = express.urlencoded({ extended: false });

  router.get('/', (req, res) => {
    const flash = typeof req.query.flash === 'string' ? req.query.flash : null;
    res.type('html').send(consolePage(ctx, flash));
  });

  router.get('/_sim/state', (_req, res) => {
    const s = ctx.store;
    res.json({
      users: [...s.users.values()],
      apps: [...s.apps.values()],
      addons: [...s.addons.values()],
      attachments: [...s.attachments.values()],
      authorizations: [...s.authorizations.values()].map(({ refreshToken: _hidden, ...rest }) => rest),
    });
  });

  router.get('/_sim/log', (_req, res) => {
    res.json({ requests: ctx.log.requests, providerCalls: ctx.log.providerCalls, violations: ctx.log.violations });
  });

  router.post('/_sim/provision', form, async (req, res) => {
    const fields = (req.body ?? {}) as Record<string, string | undefined>;
    const outcome = await driver.provision({
      ...(fields.app ? { app: fields.app } : {}),
      plan: fields.plan || 'basic',
      options: fields.database ? { database: fields.database } : {},
    });
    back(
      res,
      `Provision of ${outcome.addon.name}: ${outcome.status ?? outcome.call.error} → ${outcome.result}${outcome.failure ? ` (${outcome.failure})` : ''}`,
    );
  });

  router.post('/_sim/addons/:addon/plan', form, async (req, res) => {
    const addon = findServiceAddon(ctx.store, req.params.addon);
    const plan = ((req.body ?? {}) as Record<string, string | undefined>).plan;
    if (!addon || !plan) return back(res, 'Plan change needs an add-on and a plan.');
    if (addon.state !== 'provisioned') return back(res, `${addon.name} is ${addon.state}.`);
    const outcome = await driver.changePlan(addon.id, plan);
    back(
      res,
      `Plan change of ${addon.name} to ${plan}: ${outcome.status ?? outcome.call.error} → ${outcome.result}${outcome.message ? ` (${outcome.message})` : ''}`,
    );
  });

  router.post('/_sim/addons/:addon/deprovision', async (req, res) => {
    const addon = findServiceAddon(ctx.store, req.params.addon);
    if (!addon) return back(res, 'No such add-on.');
    const outcome = await driver.deprovision(addon.id);
    back(res, `Deprovision of ${addon.name}: ${outcome.status ?? outcome.call.error} → ${outcome.result}`);
  });

  return router;
}

function back(res: Response, flash: string): void {
  res.redirect(303, `/?flash=${encodeURIComponent(flash)}`);
}
