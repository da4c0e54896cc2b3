import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { requireAdmin } from '../middleware/api-auth.ts';
import { AppError } from '../../errors.ts';
import { actorOf } from '../api/actor.ts';
import { formBody } from '../form-body.ts';
import { notificationsDeps } from '../notifications-deps.ts';
import {
  addWebhook,
  describeNotifications,
  removeWebhook,
  sendTestNotification,
  updateNotificationSettings,
} from '../../notifications/notifications.service.ts';

const NOTICES: Record<string, string> = {
  saved: 'Notification settings saved.',
  'webhook-deleted': 'Webhook deleted.',
};

/** A form field that may repeat (checkboxes): always a list of strings. */
const list = (value: unknown): string[] =>
  (Array.isArray(value) ? value : value === undefined ? [] : [value]).filter((v): v is string => typeof v === 'string');

/**
 * Settings → Notifications: email, webhooks and the app's log stream, which events go where, a
 * "send a test" button and the delivery log. Everyone may look; only admins change anything.
 */
export function notificationsPage(deps: AppDeps): Router {
  const router = Router();
  const guard = sameOrigin(deps.config.PUBLIC_URL);
  const notifications = notificationsDeps(deps);

  async function render(
    req: Request,
    res: Response,
    extra: { error?: string; notice?: string; newSecret?: { url: string; secret: string } } = {},
  ) {
    const { resource, user } = req.viewer;
    const overview = await describeNotifications(notifications, resource.id);
    res.render('notifications', {
      title: `Notifications · ${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      isAdmin: user.role === 'admin',
      ...overview,
      notice: extra.notice ?? (typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined),
      error: extra.error,
      newSecret: extra.newSecret,
    });
  }

  /** Runs a change; a 422 re-renders the page with the message. */
  const change =
    (work: (req: Request, res: Response) => Promise<string | undefined>) => async (req: Request, res: Response) => {
      try {
        const notice = await work(req, res);
        if (notice) res.redirect(303, `/settings/notifications?notice=${notice}`);
      } catch (error) {
        if (!(error instanceof AppError) || error.status !== 422) throw error;
        res.status(422);
        await render(req, res, { error: error.message });
      }
    };

  router.get('/settings/notifications', requireSession, async (req, res) => {
    await render(req, res);
  });

  router.post(
    '/settings/notifications',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      const body = formBody(req);
      const recipients = typeof body.recipients === 'string' ? body.recipients.split(/[\s,;]+/).filter(Boolean) : [];
      await updateNotificationSettings(notifications, actorOf(req), {
        email: { enabled: body.emailEnabled === 'on', recipients, events: list(body.emailEvents) },
        logStream: { enabled: body.logStreamEnabled === 'on', events: list(body.logStreamEvents) },
      });
      return 'saved';
    }),
  );

  router.post(
    '/settings/notifications/webhooks',
    requireSession,
    guard,
    requireAdmin,
    change(async (req, res) => {
      const body = formBody(req);
      const events = list(body.events);
      const { webhook, secret } = await addWebhook(notifications, actorOf(req), {
        url: body.url,
        ...(events.length ? { events } : {}),
      });
      await render(req, res, { notice: 'Webhook added.', newSecret: { url: webhook.url, secret } });
      return undefined;
    }),
  );

  router.post(
    '/settings/notifications/webhooks/:id/delete',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      await removeWebhook(notifications, actorOf(req), req.params.id as string);
      return 'webhook-deleted';
    }),
  );

  router.post(
    '/settings/notifications/test',
    requireSession,
    guard,
    requireAdmin,
    change(async (req, res) => {
      const { deliveries } = await sendTestNotification(notifications, actorOf(req));
      await render(req, res, {
        notice:
          deliveries === 0
            ? 'No channel is on: turn one on or add a webhook, then send a test.'
            : `Test sent to ${deliveries} channel${deliveries === 1 ? '' : 's'}; the delivery log below shows how each went.`,
      });
      return undefined;
    }),
  );

  return router;
}
