import type { SimContext } from './context.ts';
import { POSTGRES_PREFIX } from './postgres/plans.ts';
import { clearAddonConfig, releaseAttachedApps } from './state/addon-config.ts';
import { revokeAuthorization } from './state/authorizations.ts';
import { attachmentsOf } from './state/store.ts';
import type { SimAddon } from './state/types.ts';

/** The prefix an attachment name replaces in the add-on's config var names. */
export function configPrefix(ctx: SimContext, addon: SimAddon): string {
  return addon.postgres ? POSTGRES_PREFIX : ctx.options.addon.configVarsPrefix;
}

// State transitions shared by the add-on manager driver (Heroku's side of provision/deprovision)
// and the Platform API actions the provider calls. Both must agree, so they live in one place.

/**
 * provisioning → provisioned. Config written while provisioning is already on the app but, as on
 * Heroku, only now does the app get a release (restart) that makes it visible to dynos.
 */
export function markProvisioned(ctx: SimContext, addon: SimAddon, description: string): boolean {
  if (addon.state !== 'provisioning') return false;
  const now = ctx.now();
  addon.state = 'provisioned';
  addon.provisionedAt = now;
  addon.updatedAt = now;
  ctx.deadlines.clear(addon.id);
  releaseAttachedApps(ctx.store, addon, description, now);
  return true;
}

/**
 * Any state → deprovisioned: removes the add-on's config vars and attachments, revokes the partner
 * authorization (its tokens get 401, refresh fails). A failed provision passes `failure` and gets no
 * release because the app never saw the add-on.
 */
export function markDeprovisioned(ctx: SimContext, addon: SimAddon, opts: { failure?: string } = {}): boolean {
  if (addon.state === 'deprovisioned') return false;
  const now = ctx.now();
  const wasLive = addon.state === 'provisioned';
  clearAddonConfig(ctx.store, addon, configPrefix(ctx, addon), {
    release: wasLive,
    description: `Remove ${addon.name} add-on`,
    now,
  });
  for (const attachment of attachmentsOf(ctx.store, addon.id)) ctx.store.attachments.delete(attachment.id);
  revokeAuthorization(ctx.store, addon.authorizationId, now);
  ctx.deadlines.clear(addon.id);
  addon.state = 'deprovisioned';
  addon.pendingDeprovision = false;
  addon.deprovisionedAt = now;
  addon.updatedAt = now;
  if (opts.failure) addon.failure = opts.failure;
  return true;
}
