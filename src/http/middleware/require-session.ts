import type { RequestHandler } from 'express';
import { AppError } from '../../errors.ts';
import { SESSION_ABSOLUTE_MS, type Viewer } from '../sso/session.ts';

declare module 'express-serve-static-core' {
  interface Request {
    viewer: Viewer;
  }
}

/** Lets through only a signed-in viewer of a live resource; ends sessions past their absolute lifetime. */
export const requireSession: RequestHandler = (req, res, next) => {
  const user = req.user;
  const signedInAt = req.session?.signedInAt ?? 0;
  if (user?.resource && user.user && Date.now() - signedInAt < SESSION_ABSOLUTE_MS) {
    req.viewer = { resource: user.resource, user: user.user };
    return next();
  }
  if (user) req.session.destroy(() => {});
  next(
    new AppError(
      'signed_out',
      401,
      "You are not signed in. Open big-backup from your app's Resources tab on the Heroku dashboard (or run `heroku addons:open big-backup`).",
    ),
  );
};
