import type { SimContext } from '../context.ts';
import type { Principal } from '../http/authenticate.ts';
import { forbidden, notFound } from '../http/errors.ts';
import { isCollaborator } from '../state/apps.ts';
import { findAddon, findApp } from '../state/store.ts';
import type { SimAddon, SimApp } from '../state/types.ts';

/** Scopes that include config vars (contract §4.1). */
const PROTECTED_READ = ['global', 'read-protected', 'write-protected'];

/** True for the partner token of exactly this add-on. */
export function isPartnerOf(p: Principal, addon: SimAddon): boolean {
  return p.authorization.kind === 'partner' && p.authorization.addonId === addon.id;
}

/** A live add-on by id or name, or 404 (deprovisioned add-ons are gone from the API). */
export function loadAddon(ctx: SimContext, idOrName: string): SimAddon {
  const addon = findAddon(ctx.store, idOrName);
  if (!addon || addon.state === 'deprovisioned') throw notFound('add-on');
  return addon;
}

/** An app by id or name, or 404. */
export function loadApp(ctx: SimContext, idOrName: string): SimApp {
  const app = findApp(ctx.store, idOrName);
  if (!app) throw notFound('app');
  return app;
}

/** Reading an add-on: its partner, or a user collaborating on its app. Another add-on's token → 403. */
export function requireAddonRead(ctx: SimContext, p: Principal, addon: SimAddon): void {
  if (isPartnerOf(p, addon)) return;
  if (p.authorization.kind === 'user' && userCollaborates(ctx, p, addon.appId)) return;
  throw forbidden('This token may not access that add-on.');
}

/** Changing an add-on's config or state: only the providing partner (platform-api schema). */
export function requirePartner(p: Principal, addon: SimAddon): void {
  if (!isPartnerOf(p, addon)) throw forbidden('Only the add-on partner providing this add-on may do this.');
}

/** Reading app metadata: a partner whose add-on is on the app, or a collaborating user. */
export function requireAppRead(ctx: SimContext, p: Principal, app: SimApp): void {
  if (p.authorization.kind === 'partner') {
    const addon = p.authorization.addonId ? ctx.store.addons.get(p.authorization.addonId) : undefined;
    if (addon && addon.state !== 'deprovisioned' && addon.appId === app.id) return;
    throw forbidden('This token may not access that app.');
  }
  if (userCollaborates(ctx, p, app.id)) return;
  throw forbidden('This token may not access that app.');
}

/** Reading config vars: never a partner token; a collaborating user with a protected scope. */
export function requireConfigVarsRead(ctx: SimContext, p: Principal, app: SimApp): void {
  if (p.authorization.kind === 'partner') throw forbidden('Add-on partner tokens may not read app config vars.');
  if (!userCollaborates(ctx, p, app.id)) throw forbidden('This token may not access that app.');
  if (!p.authorization.scopes.some((s) => PROTECTED_READ.includes(s))) {
    throw forbidden('This OAuth authorization lacks the read-protected scope needed for config vars.');
  }
}

function userCollaborates(ctx: SimContext, p: Principal, appId: string): boolean {
  const app = ctx.store.apps.get(appId);
  return !!app && p.authorization.kind === 'user' && isCollaborator(app, p.authorization.userId);
}

/** Scopes that may change apps and add-ons. */
const WRITE = ['global', 'write', 'write-protected'];
/** Scopes that may create and destroy databases and read their URLs (contract §5.7). */
const PROTECTED_WRITE = ['global', 'write-protected'];

/** Acting for a user: a partner token may not create or destroy apps and add-ons (contract §4.2, §5.6). */
export function requireUserToken(p: Principal, what: string): void {
  if (p.authorization.kind !== 'user') throw forbidden(`Add-on partner tokens may not ${what}.`);
}

/** A user token with a write scope that collaborates on the app. */
export function requireAppWrite(ctx: SimContext, p: Principal, app: SimApp, what: string): void {
  requireUserToken(p, what);
  if (!userCollaborates(ctx, p, app.id)) throw forbidden(`You do not have access to the app ${app.name}.`);
  if (!p.authorization.scopes.some((s) => WRITE.includes(s)))
    throw forbidden('This OAuth authorization lacks a write scope.');
}

/** Creating or destroying a Heroku Postgres database: a collaborating user with `write-protected` or `global`. */
export function requireDatabaseWrite(ctx: SimContext, p: Principal, app: SimApp, what: string): void {
  requireAppWrite(ctx, p, app, what);
  if (!p.authorization.scopes.some((s) => PROTECTED_WRITE.includes(s))) {
    throw forbidden('This OAuth authorization lacks the write-protected scope needed for Heroku Postgres databases.');
  }
}

/** Reading an add-on's config values as a user needs a protected scope, like the app's config vars. */
export function requireProtectedScope(p: Principal): void {
  if (p.authorization.kind === 'user' && !p.authorization.scopes.some((s) => PROTECTED_READ.includes(s))) {
    throw forbidden('This OAuth authorization lacks the read-protected scope needed for config vars.');
  }
}

/** True when the user collaborates on the app (false for partner tokens). */
export function canUserRead(ctx: SimContext, p: Principal, app: SimApp): boolean {
  return userCollaborates(ctx, p, app.id);
}
