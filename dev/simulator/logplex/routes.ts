import express, { Router } from 'express';
import type { SimContext } from '../context.ts';
import { HerokuError } from '../http/errors.ts';
import { parseLogplexBody } from './frames.ts';

/** The path of the simulated Logplex input; each add-on's `log_input_url` points here with its own token. */
export const LOGPLEX_PATH = '/logplex/logs';

/** The `log_input_url` Heroku sends an add-on: Basic credentials `token:t.<uuid>` on our Logplex input. */
export function logInputUrl(ctx: SimContext, addonId: string): string {
  const url = new URL(LOGPLEX_PATH, ctx.url);
  url.username = 'token';
  url.password = `t.${addonId}`;
  return url.toString();
}

/**
 * `POST /logplex/logs`: what Logplex does with an add-on partner's log lines ("Writing to Application
 * Logs as an Add-on Partner"): Basic auth with the add-on's token, `Content-Type: application/logplex-1`,
 * a body of octet-counted RFC 5424 frames whose number matches `Logplex-Msg-Count` when sent. Each
 * frame is recorded under the add-on's app, as `heroku logs` would show it.
 */
export function logplexRoutes(ctx: SimContext): Router {
  const router = Router();
  router.post(LOGPLEX_PATH, express.text({ type: () => true, limit: '1mb' }), (req, res) => {
    const match = /^Basic (.+)$/.exec(req.get('authorization') ?? '');
    const [user, token] = match ? Buffer.from(match[1]!, 'base64').toString('utf8').split(':', 2) : [];
    const addon = token?.startsWith('t.') ? ctx.store.addons.get(token.slice(2)) : undefined;
    if (user !== 'token' || !addon || addon.provisionBody?.log_input_url === undefined)
      throw new HerokuError(401, 'unauthorized', 'Invalid log token.');
    if (addon.state === 'deprovisioned') throw new HerokuError(404, 'not_found', 'That log channel is gone.');
    if (req.get('content-type') !== 'application/logplex-1')
      throw new HerokuError(415, 'unsupported_media_type', 'Content-Type must be application/logplex-1.');
    const body = typeof req.body === 'string' ? req.body : '';
    let frames;
    try {
      frames = parseLogplexBody(body);
    } catch (error) {
      throw new HerokuError(400, 'bad_request', `Malformed log frames: ${(error as Error).message}`);
    }
    const count = req.get('logplex-msg-count');
    if (count !== undefined && Number(count) !== frames.length)
      throw new HerokuError(400, 'bad_request', `Logplex-Msg-Count says ${count}, the body has ${frames.length}.`);
    const receivedAt = ctx.now();
    for (const frame of frames)
      ctx.store.logLines.push({
        addonId: addon.id,
        appId: addon.appId,
        receivedAt,
        userAgent: req.get('user-agent') ?? null,
        ...frame,
      });
    res.status(204).end();
  });
  return router;
}
