import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireAdmin } from '../middleware/api-auth.ts';
import { describeSchedule, removeSchedule, setSchedule } from '../../backups/schedules.service.ts';
import { declareSourceStatic, describeSource, setSourceUrl } from '../../backups/sources.service.ts';
import { actorOf } from './actor.ts';
import { describeDrills, setDrillSettings } from '../../backups/drills.service.ts';

/** `/api/v1/schedule` and `/api/v1/source`: anyone may read them; only admins change them. */
export function settingsApi(deps: AppDeps): Router {
  const router = Router();
  router.get('/schedule', async (req, res) => {
    res.json(await describeSchedule(deps, req.viewer.resource.id));
  });
  router.put('/schedule', requireAdmin, async (req, res) => {
    const actor = actorOf(req);
    await setSchedule(deps, actor.resourceId, req.body, actor.label, actor.ip);
    res.json(await describeSchedule(deps, actor.resourceId));
  });
  router.delete('/schedule', requireAdmin, async (req, res) => {
    const actor = actorOf(req);
    await removeSchedule(deps, actor.resourceId, actor.label, actor.ip);
    res.status(204).end();
  });
  router.get('/source', async (req, res) => {
    res.json({ source: await describeSource(deps, req.viewer.resource.id) });
  });
  router.put('/source', requireAdmin, async (req, res) => {
    const actor = actorOf(req);
    res.json({ source: await setSourceUrl(deps, actor.resourceId, req.body, actor) });
  });
  // Issue 15: restore drills, how often, and the plan of the empty database they restore into.
  router.get('/drills', async (req, res) => {
    res.json(await describeDrills(deps.pool, req.viewer.resource.id));
  });
  router.put('/drills', requireAdmin, async (req, res) => {
    const actor = actorOf(req);
    res.json(await setDrillSettings(deps.pool, actor.resourceId, req.body, actor));
  });
  // Sharded capture of a direct source (issue 14): an admin declares it static, with a confirmation.
  router.put('/source/static', requireAdmin, async (req, res) => {
    const actor = actorOf(req);
    res.json({ source: await declareSourceStatic(deps, actor.resourceId, req.body, actor) });
  });
  return router;
}
