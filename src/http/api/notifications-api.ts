import { Router } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireAdmin } from '../middleware/api-auth.ts';
import { actorOf } from './actor.ts';
import { notificationsDeps } from '../notifications-deps.ts';
import {
  addWebhook,
  describeNotifications,
  removeWebhook,
  sendTestNotification,
  updateNotificationSettings,
} from '../../notifications/notifications.service.ts';

/**
 * `/api/v1/notifications`: the channels, which events go where, and the recent deliveries; anyone may
 * read, only admins change them. A new webhook's signing secret is in the creating answer only.
 */
export function notificationsApi(deps: AppDeps): Router {
  const router = Router();
  const notifications = notificationsDeps(deps);
  router.get('/notifications', async (req, res) => {
    res.json(await describeNotifications(notifications, req.viewer.resource.id));
  });
  router.put('/notifications', requireAdmin, async (req, res) => {
    const actor = actorOf(req);
    await updateNotificationSettings(notifications, actor, req.body);
    res.json(await describeNotifications(notifications, actor.resourceId));
  });
  router.post('/notifications/webhooks', requireAdmin, async (req, res) => {
    const { webhook, secret } = await addWebhook(notifications, actorOf(req), req.body);
    res.status(201).json({ webhook, secret });
  });
  router.delete('/notifications/webhooks/:id', requireAdmin, async (req, res) => {
    await removeWebhook(notifications, actorOf(req), req.params.id as string);
    res.status(204).end();
  });
  router.post('/notifications/test', requireAdmin, async (req, res) => {
    res.status(202).json(await sendTestNotification(notifications, actorOf(req)));
  });
  return router;
}
