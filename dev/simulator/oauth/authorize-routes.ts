import { Router } from 'express';
import type { SimContext } from '../context.ts';
import { HerokuError } from '../http/errors.ts';
import { ensureUser } from '../state/apps.ts';
import { createUserAuthorization, issueGrantCode } from '../state/authorizations.ts';

/** Scopes id.heroku.com knows; `*-protected` and `global` include config vars (contract §4.1). */
export const KNOWN_SCOPES = ['global', 'identity', 'read', 'write', 'read-protected', 'write-protected'] as const;

/**
 * id.heroku.com's `GET /oauth/authorize` for user-level OAuth clients, auto-approved: real Heroku
 * shows a consent page; here the user (`?user=<email>`, simulator-only, default owner@example.com)
 * always says yes and is redirected back with `code` and `state`.
 */
export function authorizeRoutes(ctx: SimContext): Router {
  const router = Router();
  router.get('/oauth/authorize', (req, res) => {
    const query = req.query as Record<string, unknown>;
    const clientId = str(query.client_id);
    const client = clientId ? ctx.store.clients.get(clientId) : undefined;
    if (!client || client.kind !== 'user') throw new HerokuError(400, 'invalid_client', 'Unknown OAuth client_id.');
    if (str(query.response_type) !== 'code')
      throw new HerokuError(400, 'unsupported_response_type', 'Only response_type=code is supported.');
    const redirectUri = str(query.redirect_uri) ?? client.redirectUri;
    if (!redirectUri || (client.redirectUri && redirectUri !== client.redirectUri)) {
      throw new HerokuError(400, 'invalid_request', 'redirect_uri does not match the client.');
    }
    const scopes = (str(query.scope) ?? 'global').split(/[\s,]+/).filter(Boolean);
    const unknown = scopes.filter((s) => !(KNOWN_SCOPES as readonly string[]).includes(s));
    if (unknown.length > 0) throw new HerokuError(400, 'invalid_scope', `Unknown scope: ${unknown.join(', ')}.`);
    const user = ensureUser(ctx.store, str(query.user) ?? 'owner@example.com', ctx.now());
    const authorization = createUserAuthorization(ctx.store, client.id, user.id, scopes, ctx.now());
    const grant = issueGrantCode(ctx.store, authorization.id, ctx.options.grantCodeTtlSeconds, ctx.now(), redirectUri);
    const target = new URL(redirectUri);
    target.searchParams.set('code', grant.code);
    const state = str(query.state);
    if (state !== null) target.searchParams.set('state', state);
    res.redirect(302, target.toString());
  });
  return router;
}

function str(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}
