import type { RequestHandler } from 'express';

/**
 * Redirects without a body, so that a redirect is only sent once the session is saved. express-session
 * saves a changed session when the response ends, but writes a response's body (all but its last
 * byte) and so its headers first; a browser or script follows a redirect on its headers alone, and
 * its next request could then load the session before that save, or have its own save overwritten by
 * it (a sign-in's regenerated session is always saved that way). With no body, express-session holds
 * the headers back until the save is done. Mount right after the session middleware.
 */
export const redirectAfterSave: RequestHandler = (_req, res, next) => {
  res.redirect = (statusOrUrl: number | string, url?: string) => {
    const [status, location] = typeof statusOrUrl === 'number' ? [statusOrUrl, url!] : [302, statusOrUrl];
    res.status(status).location(location).end();
  };
  next();
};
