import type { ErrorRequestHandler, RequestHandler } from 'express';

/** An error answered in the Platform API shape `{"id": ..., "message": ...}`. */
export class HerokuError extends Error {
  readonly status: number;
  readonly id: string;
  readonly headers: Record<string, string>;

  constructor(status: number, id: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.id = id;
    this.headers = headers;
  }
}

/** 401: missing, unknown, expired or revoked credentials. */
export const unauthorized = (message = 'Invalid credentials provided.'): HerokuError =>
  new HerokuError(401, 'unauthorized', message);
/** 403: valid credentials that may not do this. */
export const forbidden = (message = 'You do not have access to this resource.'): HerokuError =>
  new HerokuError(403, 'forbidden', message);
/** 404 for a named kind of record. */
export const notFound = (what: string): HerokuError => new HerokuError(404, 'not_found', `Couldn't find that ${what}.`);
/** 422: the request body is not acceptable. */
export const invalidParams = (message: string): HerokuError => new HerokuError(422, 'invalid_params', message);
/** 400 as id.heroku.com answers OAuth grant problems. */
export const invalidGrant = (message: string): HerokuError => new HerokuError(400, 'invalid_grant', message);

/** Answers unknown paths like the Platform API does. */
export const notFoundHandler: RequestHandler = (req, _res, next) => {
  next(
    new HerokuError(
      404,
      'not_found',
      `The requested API endpoint was not found. Are you using the right HTTP verb (${req.method} ${req.path})?`,
    ),
  );
};

/** Renders HerokuError and body-parser errors as JSON; anything else is a simulator bug (500). */
export const errorHandler: ErrorRequestHandler = (err: unknown, _req, res, _next) => {
  if (err instanceof HerokuError) {
    res.status(err.status).set(err.headers).json({ id: err.id, message: err.message });
    return;
  }
  const status = (err as { status?: unknown }).status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    res.status(status).json({ id: 'bad_request', message: (err as Error).message });
    return;
  }
  console.error('heroku simulator: unexpected error', err);
  res
    .status(500)
    .json({ id: 'internal_server_error', message: 'Simulator error: ' + String((err as Error)?.message ?? err) });
};
