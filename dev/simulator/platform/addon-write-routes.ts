import express, { Router } from 'express';
import type { SimContext } from '../context.ts';
import { principal } from '../http/authenticate.ts';
import { HerokuError, invalidParams, notFound } from '../http/errors.ts';
import type { AddonManagerDriver } from '../manager/driver.ts';
import { attachmentTaken, createPostgresAddon, destroyPostgresAddon } from '../postgres/addons.ts';
import { resolveForkSource } from '../postgres/fork-source.ts';
import {
  POSTGRES_SERVICE,
  colorAttachmentName,
  isForkablePlan,
  normaliseAttachmentName,
  postgresPlanSlug,
} from '../postgres/plans.ts';
import { findAddon } from '../state/store.ts';
import type { SimAddon, SimApp } from '../state/types.ts';
import type { Principal } from '../http/authenticate.ts';
import { canUserRead, loadAddon, loadApp, requireAppWrite, requireDatabaseWrite } from './access.ts';
import { addonJson } from './serialize.ts';

/**
 * Creating and destroying add-ons with a user token: `POST /apps/{app}/addons` makes Heroku Postgres
 * databases and forks; `DELETE` removes any add-on (the simulated service's through its provider).
 * Mount behind authenticate.
 */
export function addonWriteRoutes(ctx: SimContext, driver: AddonManagerDriver): Router {
  const router = Router();

  router.post('/apps/:app/addons', express.json(), (req, res) => {
    const app = loadApp(ctx, req.params.app);
    const p = principal(res);
    requireDatabaseWrite(ctx, p, app, 'create add-ons');
    const body = (req.body ?? {}) as Record<string, unknown>;
    const planName =
      typeof body.plan === 'string'
        ? body.plan
        : typeof (body.plan as { name?: unknown } | undefined)?.name === 'string'
          ? (body.plan as { name: string }).name
          : null;
    if (!planName) throw invalidParams('Missing required parameter: plan.');
    const slug = postgresPlanSlug(planName);
    if (!slug) {
      throw new HerokuError(
        422,
        'invalid_params',
        `Couldn't find either the add-on service or the add-on plan of "${planName}". (This simulator creates only ${POSTGRES_SERVICE} add-ons through the Platform API.)`,
      );
    }
    const config = stringMap(body.config);
    const name = typeof body.name === 'string' && body.name !== '' ? body.name : null;
    if (name && findAddon(ctx.store, name)) throw invalidParams(`Name ${name} is already taken by another add-on.`);
    const attachmentName = chooseAttachmentName(ctx, app, body.attachment);
    const source = config.fork !== undefined ? forkSource(ctx, p, app, config.fork) : null;
    if (config.follow !== undefined) throw invalidParams('Followers are not simulated.');
    if (!ctx.postgres.server)
      throw new HerokuError(
        503,
        'service_unavailable',
        'The simulator was started without postgres.adminUrl, so it cannot create databases.',
      );
    const addon = createPostgresAddon(ctx, app, { slug, name, attachmentName, source, config });
    if (source && ctx.faults.loseNextForkReply) {
      ctx.faults.loseNextForkReply = false;
      throw new HerokuError(
        503,
        'service_unavailable',
        'simulated fault: the fork was created, but this reply was lost',
      );
    }
    res.status(201).json(addonJson(ctx, addon));
  });

  const destroy = async (addon: SimAddon, p: Principal): Promise<SimAddon> => {
    const app = loadApp(ctx, addon.appId);
    if (addon.postgres) {
      requireDatabaseWrite(ctx, p, app, 'remove add-ons');
      await destroyPostgresAddon(ctx, addon);
    } else {
      requireAppWrite(ctx, p, app, 'remove add-ons');
      await driver.deprovision(addon.id);
    }
    return addon;
  };

  router.delete('/apps/:app/addons/:addon', async (req, res) => {
    const app = loadApp(ctx, req.params.app);
    const addon = loadAddon(ctx, req.params.addon);
    if (addon.appId !== app.id) throw notFound('add-on');
    res.json(addonJson(ctx, await destroy(addon, principal(res))));
  });

  router.delete('/addons/:addon', async (req, res) => {
    const addon = loadAddon(ctx, req.params.addon);
    res.json(addonJson(ctx, await destroy(addon, principal(res))));
  });

  return router;
}

function forkSource(ctx: SimContext, p: Principal, target: SimApp, value: string): SimAddon {
  const source = resolveForkSource(ctx, target, value);
  // Access first: someone who may not see the source app learns nothing about its database's state.
  const sourceApp = loadApp(ctx, source.appId);
  if (!canUserRead(ctx, p, sourceApp))
    throw new HerokuError(
      403,
      'forbidden',
      `You do not have access to the app ${sourceApp.name} that owns the database to fork.`,
    );
  if (source.state !== 'provisioned')
    throw invalidParams('The database to fork is not available yet; wait until it is provisioned.');
  if (!isForkablePlan(source.plan)) {
    throw invalidParams(
      `Forking is not supported on ${POSTGRES_SERVICE}:${source.plan}. Only Standard, Premium, Private and Shield tier databases can be forked; Essential-tier databases cannot.`,
    );
  }
  return source;
}

function chooseAttachmentName(ctx: SimContext, app: SimApp, attachment: unknown): string {
  const requested = (attachment as { name?: unknown } | undefined)?.name;
  if (requested === undefined || requested === null || requested === '') {
    const taken = new Set([...ctx.store.attachments.values()].filter((a) => a.appId === app.id).map((a) => a.name));
    return colorAttachmentName(taken);
  }
  const name = typeof requested === 'string' ? normaliseAttachmentName(requested) : null;
  if (!name)
    throw invalidParams('Attachment name must start with a letter and contain only letters, digits and underscores.');
  if (attachmentTaken(ctx, app, name)) throw invalidParams(`Attachment name ${name} is already in use on ${app.name}.`);
  return name;
}

function stringMap(value: unknown): Record<string, string> {
  if (value === undefined || value === null) return {};
  if (typeof value !== 'object' || Array.isArray(value))
    throw invalidParams('config must be an object of name → string.');
  const map: Record<string, string> = {};
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') throw invalidParams(`config.${key} must be a string.`);
    map[key] = v;
  }
  return map;
}
