import session from 'express-session';
import connectPgSimple from 'connect-pg-simple';
import { Passport } from 'passport';
import type { RequestHandler } from 'express';
import type { AppDeps } from '../deps.ts';
import { HerokuSsoStrategy, type SessionUser } from './strategy.ts';
import { redirectAfterSave } from './redirect-after-save.ts';
import { findResource } from '../../resources/resources.repo.ts';
import { findResourceUser, type ResourceUser } from '../../users/resource-users.repo.ts';
import type { Resource } from '../../resources/resources.repo.ts';

/** The signed-in person as request handlers see it (loaded fresh on every request). */
export interface Viewer {
  resource: Resource;
  user: ResourceUser;
}

declare global {
  namespace Express {
    interface User extends Partial<Viewer> {}
  }
}

declare module 'express-session' {
  interface SessionData {
    signedInAt?: number;
  }
}

/** Idle sessions end after an hour; any session ends 12 hours after sign-in. */
export const SESSION_IDLE_MS = 60 * 60_000;
export const SESSION_ABSOLUTE_MS = 12 * 60 * 60_000;

/**
 * Cookie sessions stored in Postgres, and passport with the Heroku SSO strategy. Behind TLS the cookie
 * is `__Host-` prefixed and Secure; Heroku's router terminates TLS, so `trust proxy` is set by the app.
 */
export function sessionMiddleware(deps: AppDeps): {
  middleware: RequestHandler[];
  passport: InstanceType<typeof Passport>;
} {
  // One passport per app (not the module singleton), so two apps in one process never share serializers.
  const passport = new Passport();
  const secure = servedOverTls(deps.config.PUBLIC_URL);
  const PgStore = connectPgSimple(session);
  passport.use(
    new HerokuSsoStrategy({
      pool: deps.pool,
      salt: deps.config.HEROKU_SSO_SALT,
      nowSeconds: deps.nowSeconds ?? (() => Math.floor(Date.now() / 1000)),
    }),
  );
  passport.serializeUser((user, done) => {
    const u = user as SessionUser;
    done(null, { resourceId: u.resourceId, userId: u.userId });
  });
  // Re-read on every request: a deprovisioned resource or a removed user loses access at once.
  passport.deserializeUser((stored: SessionUser, done) => {
    loadViewer(deps, stored).then((viewer) => done(null, viewer ?? false), done);
  });
  const middleware = [
    session({
      store: new PgStore({
        pool: deps.pool,
        tableName: 'sessions',
        createTableIfMissing: false,
        pruneSessionInterval: 15 * 60,
      }),
      name: sessionCookieName(deps.config.PUBLIC_URL),
      secret: deps.config.SESSION_SECRET,
      resave: false,
      saveUninitialized: false,
      rolling: true,
      proxy: true,
      cookie: { httpOnly: true, sameSite: 'lax', secure, path: '/', maxAge: SESSION_IDLE_MS },
    }),
    redirectAfterSave,
    passport.session() as RequestHandler, // typed any by @types/passport
  ];
  return { middleware, passport };
}

async function loadViewer(deps: AppDeps, stored: SessionUser): Promise<Viewer | undefined> {
  if (!stored?.resourceId || !stored.userId) return undefined;
  const resource = await findResource(deps.pool, stored.resourceId);
  if (!resource || resource.state !== 'provisioned') return undefined;
  const user = await findResourceUser(deps.pool, resource.id, stored.userId);
  return user && { resource, user };
}

/** `__Host-` cookies must be Secure, so the prefix is used only when we are served over TLS. */
export function sessionCookieName(publicUrl: string): string {
  return servedOverTls(publicUrl) ? '__Host-big-backup.sid' : 'big-backup.sid';
}

/** Whether we are served over TLS (Heroku's router terminates it): Secure cookies, HSTS. */
export function servedOverTls(publicUrl: string): boolean {
  return new URL(publicUrl).protocol === 'https:';
}
