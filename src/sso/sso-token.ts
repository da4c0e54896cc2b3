import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** Who Heroku says is signing in, after the token checked out. */
export interface SsoClaims {
  resourceId: string;
  userId: string;
  email: string;
  app: string | null;
  /** The token that was used, in lower case, for replay protection. */
  token: string;
}

export type SsoVerdict = { ok: true; claims: SsoClaims } | { ok: false; reason: string };

/**
 * Heroku's guidance: refuse tokens older than 5 minutes. Heroku's clock and ours may differ by more than
 * a few seconds, so a token stamped up to 5 minutes ahead of our clock is accepted too: a token is
 * good for at most 10 minutes in all.
 */
export const SSO_MAX_AGE_SECONDS = 300;
export const SSO_MAX_FUTURE_SECONDS = 300;
/**
 * How long a used token is remembered (a replay is refused), by our database's clock: longer than the
 * whole window in which any of our processes could accept it, with 5 minutes to spare for web
 * processes whose clocks differ from each other.
 */
export const SSO_TOKEN_USE_RETENTION_SECONDS = SSO_MAX_FUTURE_SECONDS + SSO_MAX_AGE_SECONDS + 300;

// The form Heroku posts carries more fields (nav-data, context_app, …); unknown ones are ignored.
const fields = z.object({
  resource_id: z.guid(),
  timestamp: z.string().regex(/^\d{1,12}$/),
  user_id: z.guid(),
  email: z.string().min(3).max(320),
  resource_token: z.string().max(200).optional(),
  user_scoped_resource_token: z.string().max(200).optional(),
  app: z.string().max(100).optional(),
});

/**
 * Checks a v3 SSO form post by its user-scoped token (sha256 over uuid, salt, timestamp, user id and
 * email), which Heroku sends beside the older resource token. The resource token (sha1 over uuid,
 * salt and timestamp) is not enough on its own: it covers neither the user id nor the email, so a
 * form holding only it could name any user, and a member could sign in as the admin. Malformed input
 * of any kind yields a refusal, never an exception, so the caller can answer 403.
 */
export function verifySsoPost(body: unknown, salt: string, nowSeconds: number): SsoVerdict {
  const parsed = fields.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'malformed sign-on request' };
  const f = parsed.data;
  const timestamp = Number(f.timestamp);
  if (nowSeconds - timestamp > SSO_MAX_AGE_SECONDS) return { ok: false, reason: 'sign-on token expired' };
  if (timestamp - nowSeconds > SSO_MAX_FUTURE_SECONDS) return { ok: false, reason: 'sign-on token is from the future' };
  const token = f.user_scoped_resource_token?.toLowerCase();
  if (token === undefined) {
    return {
      ok: false,
      reason:
        f.resource_token === undefined
          ? 'no sign-on token'
          : 'no user-scoped sign-on token: a resource token alone does not say who signs in',
    };
  }
  const expected = createHash('sha256')
    .update(`${f.resource_id}:${salt}:${f.timestamp}:${f.user_id}:${f.email}`)
    .digest('hex');
  if (!sameHex(token, expected)) return { ok: false, reason: 'sign-on token does not match' };
  return {
    ok: true,
    claims: {
      resourceId: f.resource_id.toLowerCase(),
      userId: f.user_id.toLowerCase(),
      email: f.email,
      app: f.app ?? null,
      token,
    },
  };
}

/** Constant-time comparison that first rejects anything not shaped like the expected hex digest. */
function sameHex(given: string, expected: string): boolean {
  if (given.length !== expected.length || !/^[0-9a-f]+$/.test(given)) return false;
  return timingSafeEqual(Buffer.from(given, 'utf8'), Buffer.from(expected, 'utf8'));
}
