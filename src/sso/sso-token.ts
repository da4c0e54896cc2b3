import { createHash, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

/** Who Heroku says is signing in, after the token checked out. */
export interface SsoClaims {
  resourceId: string;
  userId: string;
  email: string;
  app: string | null;
  /** The token that was used, for replay protection. */
  token: string;
}

export type SsoVerdict = { ok: true; claims: SsoClaims } | { ok: false; reason: string };

/** Heroku's guidance: refuse tokens older than 5 minutes; we also refuse ones from more than 1 minute ahead. */
export const SSO_MAX_AGE_SECONDS = 300;
export const SSO_MAX_FUTURE_SECONDS = 60;

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
 * Checks a v3 SSO form post. The user-scoped token (sha256 over uuid, salt, timestamp, user id and
 * email) is preferred when present; otherwise the resource token (sha1 over uuid, salt, timestamp).
 * Malformed input of any kind yields a refusal, never an exception, so the caller can answer 403.
 */
export function verifySsoPost(body: unknown, salt: string, nowSeconds: number): SsoVerdict {
  const parsed = fields.safeParse(body);
  if (!parsed.success) return { ok: false, reason: 'malformed sign-on request' };
  const f = parsed.data;
  const timestamp = Number(f.timestamp);
  if (nowSeconds - timestamp > SSO_MAX_AGE_SECONDS) return { ok: false, reason: 'sign-on token expired' };
  if (timestamp - nowSeconds > SSO_MAX_FUTURE_SECONDS) return { ok: false, reason: 'sign-on token is from the future' };
  const userScoped = f.user_scoped_resource_token !== undefined;
  const token = userScoped ? f.user_scoped_resource_token! : f.resource_token;
  if (token === undefined) return { ok: false, reason: 'no sign-on token' };
  const expected = userScoped
    ? createHash('sha256').update(`${f.resource_id}:${salt}:${f.timestamp}:${f.user_id}:${f.email}`).digest('hex')
    : createHash('sha1').update(`${f.resource_id}:${salt}:${f.timestamp}`).digest('hex');
  if (!sameHex(token, expected)) return { ok: false, reason: 'sign-on token does not match' };
  return { ok: true, claims: { resourceId: f.resource_id.toLowerCase(), userId: f.user_id.toLowerCase(), email: f.email, app: f.app ?? null, token } };
}

/** Constant-time comparison that first rejects anything not shaped like the expected hex digest. */
function sameHex(given: string, expected: string): boolean {
  const normalized = given.toLowerCase();
  if (normalized.length !== expected.length || !/^[0-9a-f]+$/.test(normalized)) return false;
  return timingSafeEqual(Buffer.from(normalized, 'utf8'), Buffer.from(expected, 'utf8'));
}
