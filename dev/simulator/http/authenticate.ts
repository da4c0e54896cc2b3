import type { RequestHandler, Response } from 'express';
import type { SimContext } from '../context.ts';
import { resolveAccessToken } from '../state/authorizations.ts';
import type { SimAuthorization } from '../state/types.ts';
import { unauthorized } from './errors.ts';
import { notes } from './record-requests.ts';

/** The authorization behind a request's valid token. */
export interface Principal {
  authorization: SimAuthorization;
  token: string;
}

/** Scheme and token of an Authorization header. */
export interface PresentedCredentials {
  scheme: 'bearer' | 'basic' | 'none' | 'malformed';
  token: string | null;
}

/**
 * Reads `Bearer <token>` or `Basic base64(<anything>:<token>)`. heroku-client sends the Basic form
 * with an empty user (`":" + token`), so both must work.
 */
export function parseAuthorization(header: string | undefined): PresentedCredentials {
  if (!header) return { scheme: 'none', token: null };
  const [scheme = '', value = ''] = header.trim().split(/\s+/, 2);
  if (/^bearer$/i.test(scheme) && value) return { scheme: 'bearer', token: value };
  if (/^basic$/i.test(scheme) && value) {
    const decoded = Buffer.from(value, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon >= 0 && colon < decoded.length - 1) return { scheme: 'basic', token: decoded.slice(colon + 1) };
  }
  return { scheme: 'malformed', token: null };
}

/** Requires a live access token; records which token and add-on the request used either way. */
export function authenticate(ctx: SimContext): RequestHandler {
  return (req, res, next) => {
    const presented = parseAuthorization(req.get('authorization'));
    const n = notes(res);
    n.auth.scheme = presented.scheme;
    if (!presented.token) return next(unauthorized());
    const resolved = resolveAccessToken(ctx.store, presented.token, ctx.now());
    n.auth.token = presented.token;
    n.auth.tokenState = resolved.state;
    n.auth.authorizationId = resolved.authorization?.id ?? null;
    n.auth.addonId = resolved.authorization?.addonId ?? null;
    if (resolved.state !== 'valid' || !resolved.authorization) return next(unauthorized());
    const principal: Principal = { authorization: resolved.authorization, token: presented.token };
    res.locals.simPrincipal = principal;
    next();
  };
}

/** The principal `authenticate` put on the response. */
export function principal(res: Response): Principal {
  const p = res.locals.simPrincipal as Principal | undefined;
  if (!p) throw new Error('simulator: route used principal() without authenticate()');
  return p;
}
