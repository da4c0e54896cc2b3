import type { SimContext } from '../context.ts';
import { invalidParams } from '../http/errors.ts';
import { findApp } from '../state/store.ts';
import type { SimAddon, SimApp } from '../state/types.ts';
import { postgresUrl } from './addons.ts';

/** A config var name as Heroku writes them: `DATABASE_URL`, `HEROKU_POSTGRESQL_CHARCOAL_URL`. */
const CONFIG_VAR = /^[A-Z][A-Z0-9_]*_URL$/;

/**
 * Resolves the `fork` config of a new Heroku Postgres add-on to the live source add-on. Only the forms
 * Heroku documents (Dev Center, "Forking Your Heroku Postgres Database"; contract §5.1) are taken: the
 * config var name of the database on the app the fork is made on, `appname::CONFIG_VAR`, or the
 * database's full URL. Anything else (an add-on id or name, an attachment name without `_URL`) is a
 * 422, so a form Heroku might refuse fails our tests rather than a customer's backup. Errors never
 * repeat the value: it may be a URL with a password.
 */
export function resolveForkSource(ctx: SimContext, targetApp: SimApp, value: string): SimAddon {
  const found = /^postgres(ql)?:\/\//i.test(value) ? byUrl(ctx, value) : byConfigVar(ctx, targetApp, value);
  if (!found || !found.postgres || found.state === 'deprovisioned') {
    throw invalidParams(
      'Could not find the database to fork from. Give its config var (DATABASE_URL on this app, or APP::DATABASE_URL on another) or its URL.',
    );
  }
  return found;
}

function byConfigVar(ctx: SimContext, targetApp: SimApp, value: string): SimAddon | undefined {
  const [appName, configVar] = value.includes('::') ? (value.split('::', 2) as [string, string]) : [null, value];
  if (!CONFIG_VAR.test(configVar)) return undefined;
  const app = appName === null ? targetApp : findApp(ctx.store, appName);
  if (!app) return undefined;
  const match = [...ctx.store.attachments.values()].find((a) => a.appId === app.id && `${a.name}_URL` === configVar);
  return match ? ctx.store.addons.get(match.addonId) : undefined;
}

function byUrl(ctx: SimContext, value: string): SimAddon | undefined {
  const wanted = normalise(value);
  for (const addon of ctx.store.addons.values()) {
    const url = addon.postgres && addon.state !== 'deprovisioned' ? postgresUrl(addon) : null;
    if (url && normalise(url) === wanted) return addon;
  }
  return undefined;
}

function normalise(url: string): string {
  try {
    const u = new URL(url);
    return `${u.username}:${u.password}@${u.hostname}:${u.port || '5432'}${u.pathname}`;
  } catch {
    return url;
  }
}
