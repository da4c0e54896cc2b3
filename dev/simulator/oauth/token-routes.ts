import { timingSafeEqual } from 'node:crypto';
import express, { Router, type RequestHandler, type Response } from 'express';
import type { SimContext } from '../context.ts';
import { HerokuError, invalidGrant, unauthorized } from '../http/errors.ts';
import { injectFaults } from '../http/platform-gate.ts';
import { notes } from '../http/record-requests.ts';
import { issueTokens } from '../state/authorizations.ts';
import type { SimAuthorization } from '../state/types.ts';
import { tokenResponse } from './token-response.ts';

/**
 * id.heroku.com's `POST /oauth/token`: exchanges a grant code or a refresh token for an access token.
 * Grant problems (unknown, used, expired code; unknown or revoked refresh token) answer 400
 * `invalid_grant`; a wrong client secret answers 401 `unauthorized` and consumes nothing.
 */
export function tokenRoutes(ctx: SimContext): Router {
  const router = Router();
  const noteGrantType: RequestHandler = (req, res, next) => {
    notes(res).grantType = field((req.body ?? {}) as Record<string, unknown>, 'grant_type');
    next();
  };
  router.post(
    '/oauth/token',
    express.urlencoded({ extended: false }),
    noteGrantType,
    injectFaults(ctx, 'oauth'),
    (req, res) => {
      if (!req.is('application/x-www-form-urlencoded')) {
        throw new HerokuError(
          400,
          'invalid_request',
          'The token endpoint takes an application/x-www-form-urlencoded body.',
        );
      }
      const form = (req.body ?? {}) as Record<string, unknown>;
      const grantType = field(form, 'grant_type');
      const authorization =
        grantType === 'authorization_code'
          ? redeemCode(ctx, form, res)
          : grantType === 'refresh_token'
            ? redeemRefreshToken(ctx, form, res)
            : null;
      if (!authorization)
        throw new HerokuError(400, 'unsupported_grant_type', `Unsupported grant_type: ${grantType ?? '(missing)'}.`);
      const access = issueTokens(ctx.store, authorization, ctx.options.accessTokenTtlSeconds, ctx.now());
      res.json(tokenResponse(authorization, access, ctx.now()));
    },
  );
  return router;
}

function redeemCode(ctx: SimContext, form: Record<string, unknown>, res: Response): SimAuthorization {
  const code = field(form, 'code');
  const grant = code ? ctx.store.grantCodes.get(code) : undefined;
  const authorization = grant ? ctx.store.authorizations.get(grant.authorizationId) : undefined;
  if (!grant || !authorization) throw invalidGrant('Invalid OAuth grant code.');
  noteAuthorization(res, authorization);
  checkClientSecret(ctx, authorization, field(form, 'client_secret'));
  if (grant.usedAt !== null) throw invalidGrant('This OAuth grant code has already been used.');
  if (grant.expiresAt <= ctx.now()) throw invalidGrant('This OAuth grant code has expired.');
  if (authorization.revokedAt !== null) throw invalidGrant('The authorization for this grant has been revoked.');
  const redirectUri = field(form, 'redirect_uri');
  if (grant.redirectUri && redirectUri && redirectUri !== grant.redirectUri)
    throw invalidGrant('redirect_uri does not match the authorize request.');
  grant.usedAt = ctx.now();
  return authorization;
}

function redeemRefreshToken(ctx: SimContext, form: Record<string, unknown>, res: Response): SimAuthorization {
  const token = field(form, 'refresh_token');
  const authorizationId = token ? ctx.store.refreshTokens.get(token) : undefined;
  const authorization = authorizationId ? ctx.store.authorizations.get(authorizationId) : undefined;
  if (!authorization) throw invalidGrant('Invalid refresh token.');
  noteAuthorization(res, authorization);
  checkClientSecret(ctx, authorization, field(form, 'client_secret'));
  if (authorization.revokedAt !== null)
    throw invalidGrant('The authorization for this refresh token has been revoked.');
  return authorization;
}

function checkClientSecret(ctx: SimContext, authorization: SimAuthorization, presented: string | null): void {
  const expected = ctx.store.clients.get(authorization.clientId)?.secret;
  if (!expected || !presented || !sameString(expected, presented)) throw unauthorized('Invalid client secret.');
}

function noteAuthorization(res: Response, authorization: SimAuthorization): void {
  const n = notes(res);
  n.auth.authorizationId = authorization.id;
  n.auth.addonId = authorization.addonId;
}

function field(form: Record<string, unknown>, name: string): string | null {
  const value = form[name];
  return typeof value === 'string' && value !== '' ? value : null;
}

function sameString(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
