import type { RequestHandler, Response } from 'express';
import type { SimContext } from '../context.ts';
import type { RecordedRequest, SimHost } from '../log.ts';

/** Fields route handlers fill in as they learn them (which token, which add-on, which grant type). */
export type RequestNotes = Pick<RecordedRequest, 'auth' | 'grantType'>;

/** The notes object of the current request. */
export function notes(res: Response): RequestNotes {
  return res.locals.simNotes as RequestNotes;
}

/** Which Heroku host a path belongs to; the simulator serves all of them from one origin. */
export function hostOf(path: string): SimHost {
  if (path.startsWith('/oauth/')) return 'id';
  if (path === '/' || path.startsWith('/_sim/') || path.startsWith('/sso/') || path.startsWith('/assets/'))
    return 'sim';
  return 'api';
}

/** Records every request once its response is finished. */
export function recordRequests(ctx: SimContext): RequestHandler {
  return (req, res, next) => {
    const at = ctx.now();
    const initial: RequestNotes = {
      auth: { scheme: 'none', token: null, tokenState: null, authorizationId: null, addonId: null },
      grantType: null,
    };
    res.locals.simNotes = initial;
    res.on('finish', () => {
      const n = notes(res);
      ctx.log.requests.push({
        seq: ctx.log.nextSeq(),
        at,
        host: hostOf(req.path),
        method: req.method,
        path: req.path,
        status: res.statusCode,
        accept: req.get('accept') ?? null,
        auth: n.auth,
        grantType: n.grantType,
      });
    });
    next();
  };
}
