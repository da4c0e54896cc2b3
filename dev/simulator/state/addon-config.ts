import { addRelease } from './apps.ts';
import { attachmentsOf, type SimStore } from './store.ts';
import type { SimAddon } from './types.ts';

/**
 * Config var names as they appear on an app: Heroku swaps the manifest prefix for the attachment
 * name, so `BIG_BACKUP_URL` becomes `PRIMARY_BACKUP_URL` under an attachment named `PRIMARY_BACKUP`.
 */
export function appVarName(canonical: string, prefix: string, attachmentName: string): string {
  return canonical.startsWith(prefix) ? attachmentName + canonical.slice(prefix.length) : canonical;
}

/**
 * Replaces some of an add-on's config (null removes a var) and mirrors it onto every attached app.
 * Adds a release on each app when something changed and `release` is true. Returns whether it changed.
 */
export function writeAddonConfig(
  store: SimStore,
  addon: SimAddon,
  changes: Record<string, string | null>,
  prefix: string,
  opts: { release: boolean; description: string; now: number },
): boolean {
  let changed = false;
  for (const [name, value] of Object.entries(changes)) {
    if (value === null) {
      if (name in addon.config) {
        delete addon.config[name];
        changed = true;
      }
    } else if (addon.config[name] !== value) {
      addon.config[name] = value;
      changed = true;
    }
  }
  if (!changed) return false;
  addon.updatedAt = opts.now;
  syncAppVars(store, addon, prefix, changes);
  if (opts.release) releaseAttachedApps(store, addon, opts.description, opts.now);
  return true;
}

/** Removes all of an add-on's vars from it and its apps (deprovision / failed provision). */
export function clearAddonConfig(
  store: SimStore,
  addon: SimAddon,
  prefix: string,
  opts: { release: boolean; description: string; now: number },
): void {
  const removals = Object.fromEntries(Object.keys(addon.config).map((name) => [name, null]));
  writeAddonConfig(store, addon, removals, prefix, { ...opts, release: false });
  if (opts.release) releaseAttachedApps(store, addon, opts.description, opts.now);
}

/** Adds one release to every app the add-on is attached to. */
export function releaseAttachedApps(store: SimStore, addon: SimAddon, description: string, now: number): void {
  const appIds = new Set(attachmentsOf(store, addon.id).map((a) => a.appId));
  for (const appId of appIds) {
    const app = store.apps.get(appId);
    if (app) addRelease(app, description, now);
  }
}

function syncAppVars(store: SimStore, addon: SimAddon, prefix: string, changes: Record<string, string | null>): void {
  for (const attachment of attachmentsOf(store, addon.id)) {
    const app = store.apps.get(attachment.appId);
    if (!app) continue;
    for (const [name, value] of Object.entries(changes)) {
      const appName = appVarName(name, prefix, attachment.name);
      if (value === null) delete app.configVars[appName];
      else app.configVars[appName] = value;
    }
  }
}
