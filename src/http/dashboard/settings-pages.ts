import { Router, type Request, type Response } from 'express';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { requireAdmin } from '../middleware/api-auth.ts';
import { AppError } from '../../errors.ts';
import { describeSchedule, removeSchedule, setSchedule } from '../../backups/schedules.service.ts';
import { describeSource, setSourceUrl } from '../../backups/sources.service.ts';
import { createApiToken, listTokens, revokeToken } from '../../api-tokens/api-tokens.service.ts';
import { TIME_ZONE_CHOICES } from '../../backups/schedule.ts';
import { actorOf } from '../api/actor.ts';
import { formBody } from '../form-body.ts';
import { describeDrills, setDrillSettings } from '../../backups/drills.service.ts';

const NOTICES: Record<string, string> = {
  'schedule-saved': 'Schedule saved.',
  'schedule-removed': 'Scheduled backups are off.',
  'source-saved': 'Database saved: big-backup connected to it and will back it up.',
  'token-revoked': 'API token revoked.',
  'drills-saved': 'Restore drill setting saved.',
};

/**
 * Settings: the schedule (with a retention preview), the database to back up when it is given
 * directly, and API tokens. Everyone may look; only admins change anything. Form errors are shown
 * on the page itself, beside what was typed.
 */
export function settingsPages(deps: AppDeps): Router {
  const router = Router();
  const guard = sameOrigin(deps.config.PUBLIC_URL);

  async function render(
    req: Request,
    res: Response,
    extra: { error?: string; newToken?: string; form?: Record<string, unknown> } = {},
  ) {
    const { resource, user } = req.viewer;
    const [schedule, source, tokens] = await Promise.all([
      describeSchedule(deps, resource.id),
      describeSource(deps, resource.id),
      user.role === 'admin' ? listTokens(deps.pool, resource.id) : Promise.resolve([]),
    ]);
    res.render('settings', {
      title: `Settings · ${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      isAdmin: user.role === 'admin',
      ...schedule,
      source,
      tokens,
      timeZones: TIME_ZONE_CHOICES,
      notice: typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined,
      error: extra.error,
      newToken: extra.newToken,
      form: extra.form ?? {},
      publicUrl: deps.config.PUBLIC_URL,
      drills: await describeDrills(deps.pool, resource.id),
    });
  }

  /** Runs a change; a 422 re-renders the page with the message, anything else goes to the error handler. */
  const change =
    (work: (req: Request) => Promise<string | { newToken: string }>) => async (req: Request, res: Response) => {
      try {
        const outcome = await work(req);
        if (typeof outcome === 'string') return res.redirect(303, `/settings?notice=${outcome}`);
        await render(req, res, outcome);
      } catch (error) {
        if (!(error instanceof AppError) || error.status !== 422) throw error;
        res.status(422);
        await render(req, res, { error: error.message, form: formBody(req) });
      }
    };

  router.get('/settings', requireSession, async (req, res) => {
    await render(req, res);
  });

  router.post(
    '/settings/schedule',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      const body = formBody(req);
      const number = (v: unknown) => (typeof v === 'string' && /^\d{1,2}$/.test(v) ? Number(v) : v);
      const input =
        body.frequency === 'hourly'
          ? { frequency: 'hourly', minute: number(body.minute), timeZone: body.timeZone }
          : {
              frequency: body.frequency,
              hour: number(body.hour),
              minute: number(body.minute),
              timeZone: body.timeZone,
            };
      await setSchedule(deps, req.viewer.resource.id, input, actorOf(req).label, actorOf(req).ip);
      return 'schedule-saved';
    }),
  );

  router.post(
    '/settings/schedule/remove',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      await removeSchedule(deps, req.viewer.resource.id, actorOf(req).label, actorOf(req).ip);
      return 'schedule-removed';
    }),
  );

  router.post(
    '/settings/source',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      const actor = actorOf(req);
      await setSourceUrl(deps, actor.resourceId, { url: formBody(req).url }, actor);
      return 'source-saved';
    }),
  );

  // Issue 15: how often restore drills run, and the plan of the empty database they restore into.
  router.post(
    '/settings/drills',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      const body = formBody(req);
      await setDrillSettings(
        deps.pool,
        req.viewer.resource.id,
        { policy: body.policy, ...(body.target_plan ? { target_plan: body.target_plan } : {}) },
        actorOf(req),
      );
      return 'drills-saved';
    }),
  );

  router.post(
    '/settings/tokens',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      const { secret } = await createApiToken(deps.pool, actorOf(req), {
        name: formBody(req).name,
        role: formBody(req).role,
      });
      return { newToken: secret };
    }),
  );

  router.post(
    '/settings/tokens/:id/revoke',
    requireSession,
    guard,
    requireAdmin,
    change(async (req) => {
      await revokeToken(deps.pool, actorOf(req), req.params.id as string);
      return 'token-revoked';
    }),
  );

  return router;
}
