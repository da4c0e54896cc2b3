import { Router, type RequestHandler } from 'express';
import { z } from 'zod';
import type { AppDeps } from '../deps.ts';
import { requireSession } from '../middleware/require-session.ts';
import { sameOrigin } from '../middleware/same-origin.ts';
import { AppError, forbidden } from '../../errors.ts';
import { parseOr422 } from '../../validate.ts';
import { sameSecret } from '../../crypto/same-secret.ts';
import { connectDeps, ConnectionUnavailableError } from '../../heroku/connect-authorization.ts';
import { OAuthRejectedError } from '../../heroku/oauth-client.ts';
import {
  authorizeUrl,
  changeSettings,
  disconnect,
  finishConnect,
  loadConnectionView,
  newConnectState,
} from '../../connect/connect.service.ts';
import { sendJob } from '../../queue/send.ts';

declare module 'express-session' {
  interface SessionData {
    /** The pending "Connect Heroku" round trip: single use, bound to this session and resource. */
    connectState?: { value: string; resourceId: string; at: number };
  }
}

// An authorize round trip takes seconds; a state older than this is refused.
const STATE_TTL_MS = 10 * 60_000;

const adminOnly: RequestHandler = (req, _res, next) => {
  if (req.viewer.user.role !== 'admin')
    return next(forbidden('Only an admin of this add-on can change its Heroku connection.'));
  next();
};

const settingsForm = z
  .object({
    // Empty: keep the current choice (the form's first option), so saving other fields never swaps them.
    attachment: z
      .union([
        z.literal(''),
        z.string().regex(/^[A-Z][A-Z0-9_]{0,63}$/, { error: 'choose one of the listed databases' }),
      ])
      .optional(),
    scratch_app: z
      .union([z.literal(''), z.string().regex(/^[a-z][a-z0-9-]{1,29}$/, { error: 'choose one of the listed apps' })])
      .optional(),
    create_scratch_app: z.literal('1').optional(),
    fork_plan: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, { error: 'a plan name such as standard-0' })
      .optional(),
    // A hidden 0 before the checkbox, so an unchecked box still says so: one value, or both.
    allow_direct_fallback: z.union([z.enum(['0', '1']), z.array(z.enum(['0', '1'])).max(2)]).optional(),
    _csrf: z.string().optional(),
  })
  .strict();

/**
 * "Connect Heroku": the customer grants big-backup a user-level token (scope write-protected) through
 * Heroku's OAuth authorize flow for our own client, so runs can read the database URL and create forks.
 * The settings page shows the connection and the choices that go with it.
 */
export function connectRoutes(deps: AppDeps): Router {
  const router = Router();
  const connect = connectDeps({ pool: deps.pool, secrets: deps.secrets }, deps.config);
  const publicUrl = deps.config.PUBLIC_URL;
  const guard = sameOrigin(publicUrl);

  router.get('/settings/heroku', requireSession, async (req, res) => {
    const { resource, user } = req.viewer;
    const view = await loadConnectionView(connect, resource);
    res.render('heroku-connection', {
      title: `Heroku connection · ${resource.appName ?? resource.name} · big-backup`,
      resource,
      user,
      configured: !!connect.client,
      isAdmin: user.role === 'admin',
      ...view,
      notice: typeof req.query.notice === 'string' ? NOTICES[req.query.notice] : undefined,
    });
  });

  router.get('/connect/heroku', requireSession, adminOnly, (req, res, next) => {
    if (!connect.client)
      return next(
        new AppError(
          'not_configured',
          503,
          'Connecting a Heroku account is not configured on this server (HEROKU_CONNECT_CLIENT_ID and HEROKU_CONNECT_CLIENT_SECRET).',
        ),
      );
    const value = newConnectState();
    req.session.connectState = { value, resourceId: req.viewer.resource.id, at: Date.now() };
    res.redirect(303, authorizeUrl(connect, publicUrl, value)); // sent once the state is saved (redirect-after-save.ts)
  });

  router.get('/connect/heroku/callback', requireSession, adminOnly, async (req, res, next) => {
    const { resource, user } = req.viewer;
    const pending = req.session.connectState;
    delete req.session.connectState;
    const state = typeof req.query.state === 'string' ? req.query.state : '';
    if (
      !pending ||
      pending.resourceId !== resource.id ||
      Date.now() - pending.at > STATE_TTL_MS ||
      !sameSecret(state, pending.value)
    ) {
      req.log.warn({ resourceId: resource.id }, 'connect callback with a missing, foreign or stale state refused');
      return next(
        forbidden('This Heroku connection attempt is not valid any more. Start again from the settings page.'),
      );
    }
    if (typeof req.query.error === 'string') {
      return res.redirect(303, '/settings/heroku?notice=denied');
    }
    const code = typeof req.query.code === 'string' ? req.query.code : '';
    if (!code) return next(forbidden('Heroku sent no authorization code. Start again from the settings page.'));
    try {
      const outcome = await finishConnect(connect, resource, code, user.email);
      req.log.info({ resourceId: resource.id }, 'heroku account connected');
      // The pre-flight risk report of the database just connected (skipped by the job if none is chosen yet).
      await sendJob(deps.boss, 'preflight', { resourceId: resource.id, trigger: 'connected' });
      res.redirect(303, `/settings/heroku?notice=${outcome.scratchApp ? 'connected' : 'connected-no-app'}`);
    } catch (error) {
      if (error instanceof OAuthRejectedError || error instanceof ConnectionUnavailableError) {
        return next(
          new AppError(
            'connect_failed',
            400,
            `Heroku did not accept the connection: ${error.message}. Start again from the settings page.`,
          ),
        );
      }
      next(error);
    }
  });

  router.post('/settings/heroku', requireSession, guard, adminOnly, async (req, res) => {
    const form = parseOr422(settingsForm, req.body ?? {});
    await changeSettings(
      connect,
      req.viewer.resource,
      {
        ...(form.attachment ? { attachment: form.attachment } : {}),
        ...(form.scratch_app ? { scratchApp: form.scratch_app } : {}),
        ...(form.create_scratch_app ? { createScratchApp: true } : {}),
        ...(form.fork_plan ? { forkPlan: form.fork_plan } : {}),
        ...(form.allow_direct_fallback
          ? { allowDirectFallback: [form.allow_direct_fallback].flat().includes('1') }
          : {}),
      },
      req.viewer.user.email,
    );
    if (form.attachment)
      await sendJob(deps.boss, 'preflight', { resourceId: req.viewer.resource.id, trigger: 'source_set' });
    res.redirect(303, '/settings/heroku?notice=saved');
  });

  router.post('/connect/heroku/disconnect', requireSession, guard, adminOnly, async (req, res) => {
    await disconnect(connect, req.viewer.resource, req.viewer.user.email);
    res.redirect(303, '/settings/heroku?notice=disconnected');
  });

  return router;
}

const NOTICES: Record<string, string> = {
  connected: 'Heroku is connected. Backups now run against a fork on the app shown below.',
  'connected-no-app': 'Heroku is connected, but no app for forks could be created: pick one below.',
  denied: 'The connection was not approved on Heroku.',
  saved: 'Saved.',
  disconnected: 'Heroku is disconnected. Backups of a Heroku database fail until someone connects again.',
};
