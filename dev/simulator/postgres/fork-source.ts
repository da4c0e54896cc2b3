import type { SimContext } from '../context.ts';
import { invalidParams } from '../http/errors.ts';
import { findAddon, findApp } from '../state/store.ts';
import type { SimAddon, SimApp } from '../state/types.ts';
import { postgresUrl } from './addons.ts';

/**
 * Resolves the `fork` config of a new Heroku Postgres add-on to the live source add-on. Heroku accepts
 * an add-on id or name, `ATTACHMENT` / `ATTACHMENT_URL` on the target app, `app::ATTACHMENT_URL`, or
 * the database URL itself (contract §5.1). Errors never repeat the value: it may be a URL with a password.
 */
export function resolveForkSource(ctx: SimContext, targetApp: SimApp, value: string): SimAddon {
  const found = /^postgres(ql)?:\/\//i.test(value) ? byUrl(ctx, value) : byReference(ctx, targetApp, value);
  if (!found || !found.postgres || found.state === 'deprovisioned') {
    throw invalidParams(
      'Could not find the database to fork from. Give a Heroku Postgres add-on, an attachment such as APP::DATABASE_URL, or its URL.',
    );
  }
  return found;
}

function byReference(ctx: SimContext, targetApp: SimApp, value: string): SimAddon | undefined {
  const direct = findAddon(ctx.store, value);
  if (direct) return direct;
  const [appName, attachment] = value.includes('::') ? (value.split('::', 2) as [string, string]) : [null, value];
  const app = appName === null ? targetApp : findApp(ctx.store, appName);
  if (!app) return undefined;
  const name = attachment.toUpperCase().replace(/_URL$/, '');
  const match = [...ctx.store.attachments.values()].find((a) => a.appId === app.id && a.name === name);
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
