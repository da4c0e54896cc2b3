import { randomUUID } from 'node:crypto';
import type { RequestHandler, Request } from 'express';
import type { Logger } from '../../logger.ts';

declare module 'express-serve-static-core' {
  interface Request {
    /** A logger bound to this request's id. */
    log: Logger;
    requestId: string;
  }
}

/**
 * Gives every request an id (Heroku's router sends X-Request-ID) and a bound logger, and logs one line
 * when the response finishes. Only the path is logged: never the query, body, cookies or headers.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    req.requestId = incoming && /^[\w-]{8,200}$/.test(incoming) ? incoming : randomUUID();
    req.log = logger.child({ requestId: req.requestId });
    res.set('X-Request-ID', req.requestId);
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      req.log.info(
        {
          method: req.method,
          path: safePath(req),
          status: res.statusCode,
          ms: Number(process.hrtime.bigint() - started) / 1e6,
        },
        'request',
      );
    });
    next();
  };
}

function safePath(req: Request): string {
  // Download-link paths carry their secret token: log `/d/[redacted]`.
  return (req.originalUrl.split('?')[0] ?? req.path).replace(/^\/d\/[^/]+/i, '/d/[redacted]');
}
