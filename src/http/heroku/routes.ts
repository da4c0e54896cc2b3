import { Router, json } from 'express';
import type { AppDeps } from '../deps.ts';
import { herokuBasicAuth } from '../middleware/heroku-auth.ts';
import { parseOr422 } from '../../validate.ts';
import { provisionBody, planChangeBody, resourceIdParam } from './schemas.ts';
import { provision, changePlan, deprovision } from '../../provisioning/provisioning.service.ts';

/** The Add-on Partner API v3 endpoints Heroku's add-on manager calls. Every answer is JSON. */
export function herokuRoutes(deps: AppDeps): Router {
  const router = Router();
  const service = { pool: deps.pool, boss: deps.boss, secrets: deps.secrets, publicUrl: deps.config.PUBLIC_URL };
  router.use(herokuBasicAuth(deps.config.HEROKU_ADDON_ID, deps.config.HEROKU_ADDON_PASSWORD));
  router.use(json({ limit: '64kb', type: () => true }));

  router.post('/', async (req, res) => {
    const body = parseOr422(provisionBody, req.body);
    const expiresAt = body.oauth_grant?.expires_at ? new Date(body.oauth_grant.expires_at) : null;
    const answer = await provision(service, {
      uuid: body.uuid.toLowerCase(),
      name: body.name ?? body.uuid,
      plan: body.plan,
      region: body.region,
      callbackUrl: body.callback_url ?? null,
      grant: body.oauth_grant
        ? { code: body.oauth_grant.code, expiresAt: expiresAt && !Number.isNaN(expiresAt.getTime()) ? expiresAt : null }
        : null,
      options: body.options ?? {},
      logInputUrl: body.log_input_url ?? null,
    });
    res.status(200).json(answer);
  });

  router.put('/:id', async (req, res) => {
    const id = parseOr422(resourceIdParam, req.params.id).toLowerCase();
    const body = parseOr422(planChangeBody, req.body);
    res.status(200).json(await changePlan(service, id, body.plan));
  });

  router.delete('/:id', async (req, res) => {
    const id = parseOr422(resourceIdParam, req.params.id).toLowerCase();
    await deprovision(service, id);
    res.status(204).end();
  });

  return router;
}
