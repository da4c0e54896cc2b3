import type { ErrorRequestHandler, Request } from 'express';
import { AppError } from '../errors.ts';
import type { Logger } from '../logger.ts';

/** Error pages whose title says more than "Something went wrong". */
const PAGE_TITLES: Readonly<Record<number, string>> = {
  // Everyone arrives through Heroku's single sign-on; there is no other way in.
  401: 'Sign in from Heroku',
  404: 'Not found',
  429: 'Too many requests',
};

/** JSON for machines (Heroku, the API), a readable page for people. */
function wantsJson(req: Request): boolean {
  return (
    req.path.startsWith('/heroku/') || req.path === '/heroku' || req.path.startsWith('/api/') || !req.accepts('html')
  );
}

/**
 * The one error handler. AppErrors show their message; body-parser errors become 400/413/422;
 * anything else is logged in full and answered with a generic 500 that leaks nothing.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    // Anything can be thrown; only these fields are read, each checked or logged as it is.
    const thrown = error as { type?: unknown; name?: unknown; message?: unknown; stack?: unknown } | null | undefined;
    let status = 500;
    let code = 'internal_error';
    let message = 'Something went wrong on our side. Please try again; if it keeps happening, contact support.';
    let fields: string[] | undefined;
    if (error instanceof AppError) {
      ({ status, code, message, fields } = error);
    } else if (thrown?.type === 'entity.parse.failed') {
      status = req.path.startsWith('/heroku') ? 422 : 400;
      code = 'invalid_json';
      message = 'the request body is not valid JSON';
    } else if (thrown?.type === 'entity.too.large') {
      status = 413;
      code = 'too_large';
      message = 'the request body is too large';
    } else {
      const log = (req as Request & { log?: Logger }).log ?? logger;
      log.error({ err: error }, 'unhandled error');
    }
    if (res.headersSent) return res.end();
    res.status(status);
    // Heroku reads `id` and `message`; our API promises a stable `code` (and `fields` for bad input).
    if (req.path.startsWith('/api/')) return res.json({ code, message, ...(fields ? { fields } : {}) });
    if (wantsJson(req)) return res.json({ id: code, message });
    res.render('error', { status, message, title: PAGE_TITLES[status] ?? 'Something went wrong' });
  };
}
