import { createHash } from 'node:crypto';

/** v3 `resource_token`: sha1 hex of `<resource uuid>:<sso salt>:<timestamp>` (contract §6.2). The v1 `token` is the same formula over the provider id. */
export function resourceToken(resourceId: string, salt: string, timestamp: number | string): string {
  return createHash('sha1').update(`${resourceId}:${salt}:${timestamp}`).digest('hex');
}

/** `user_scoped_resource_token`: sha256 hex of `<resource uuid>:<salt>:<timestamp>:<user uuid>:<user email>`. */
export function userScopedResourceToken(
  resourceId: string,
  salt: string,
  timestamp: number | string,
  userId: string,
  email: string,
): string {
  return createHash('sha256').update(`${resourceId}:${salt}:${timestamp}:${userId}:${email}`).digest('hex');
}

/** The legacy `nav-data` field: base64url JSON describing the Heroku nav header. */
export function navData(addonDisplayName: string, appName: string): string {
  return Buffer.from(JSON.stringify({ addon: addonDisplayName, appname: appName, addons: [] })).toString('base64url');
}
