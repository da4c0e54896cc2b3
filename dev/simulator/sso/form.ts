import type { SimContext } from '../context.ts';
import { ensureUser } from '../state/apps.ts';
import { newId } from '../state/ids.ts';
import { appOf, findServiceAddon, findApp } from '../state/store.ts';
import { navData, resourceToken, userScopedResourceToken } from './tokens.ts';

/** Deliberately wrong SSO posts, one per way a provider's check can be too lenient or too fragile. */
export const SSO_VARIANTS = [
  'valid',
  'bad-token', // well-formed hex of the right length, wrong secret
  'malformed', // right length, not hex
  'wrong-length', // valid hex, two characters short (catches timingSafeEqual throwing)
  'stale', // correct tokens for a timestamp 6 minutes old (kensa check 26)
  'future', // correct tokens for a timestamp 6 minutes ahead
  'other-resource', // resource_id of this add-on, tokens of another resource
  'resource-token-only', // no user_scoped_resource_token
  'user-scoped-only', // no resource_token
] as const;

/** One of SSO_VARIANTS. */
export type SsoVariant = (typeof SSO_VARIANTS)[number];

/** Choices for building an SSO form. */
export interface SsoFormOptions {
  /** Email or id of the user signing in; unknown emails become new accounts. Default: the app owner. */
  user?: string;
  variant?: SsoVariant;
  /** Unix seconds to sign; default: the simulator clock (shifted for stale/future). */
  timestamp?: number;
  /** The app the user came from; default: the add-on's billing app. */
  contextApp?: string;
  /** For `other-resource`: whose tokens to use; default: another add-on, else a random uuid. */
  otherResourceId?: string;
  /** Also send the deprecated v1 `id` and `token` fields. */
  legacyFields?: boolean;
}

/** What Heroku's browser posts to the provider: `GET /apps/{app}/addons/{addon}/sso` (3.sdk) returns this shape. */
export interface SsoForm {
  action: string;
  method: 'post';
  params: Record<string, string>;
}

/** Seconds the stale/future variants move the timestamp: kensa's 6 minutes. */
const SKEW_SECONDS = 360;

/** Builds the SSO form post for an add-on, honest or deliberately wrong. */
export function buildSsoForm(ctx: SimContext, addonIdOrName: string, opts: SsoFormOptions = {}): SsoForm {
  const addon = findServiceAddon(ctx.store, addonIdOrName);
  if (!addon) throw new Error(`simulator: no add-on ${addonIdOrName}`);
  const app = appOf(ctx.store, addon);
  const salt = ctx.options.addon.ssoSalt;
  const variant = opts.variant ?? 'valid';
  const user = opts.user ? ensureUser(ctx.store, opts.user, ctx.now()) : ctx.store.users.get(app.ownerId);
  if (!user) throw new Error(`simulator: app ${app.name} has no owner`);
  const nowSeconds = Math.floor(ctx.now() / 1000);
  const timestamp =
    opts.timestamp ?? nowSeconds + (variant === 'stale' ? -SKEW_SECONDS : variant === 'future' ? SKEW_SECONDS : 0);
  const signedId = variant === 'other-resource' ? (opts.otherResourceId ?? otherResource(ctx, addon.id)) : addon.id;
  const signingSalt = variant === 'bad-token' ? salt.split('').reverse().join('') + 'x' : salt;

  let resource = resourceToken(signedId, signingSalt, timestamp);
  let userScoped = userScopedResourceToken(signedId, signingSalt, timestamp, user.id, user.email);
  if (variant === 'malformed') {
    resource = 'z'.repeat(resource.length);
    userScoped = 'z'.repeat(userScoped.length);
  }
  if (variant === 'wrong-length') {
    resource = resource.slice(0, -2);
    userScoped = userScoped.slice(0, -2);
  }

  const contextApp = opts.contextApp ? (findApp(ctx.store, opts.contextApp)?.name ?? opts.contextApp) : app.name;
  const params: Record<string, string> = {
    resource_id: addon.id,
    timestamp: String(timestamp),
    user_id: user.id,
    email: user.email,
    app: app.name,
    context_app: contextApp,
    'nav-data': navData(ctx.options.addon.name, app.name),
  };
  if (variant !== 'user-scoped-only') params.resource_token = resource;
  if (variant !== 'resource-token-only') params.user_scoped_resource_token = userScoped;
  if (opts.legacyFields && addon.providerId) {
    params.id = addon.providerId;
    params.token = resourceToken(addon.providerId, signingSalt, timestamp);
  }
  return { action: ctx.options.addon.ssoUrl, method: 'post', params };
}

function otherResource(ctx: SimContext, addonId: string): string {
  for (const candidate of ctx.store.addons.keys()) if (candidate !== addonId) return candidate;
  return newId();
}
