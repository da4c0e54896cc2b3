import { configPrefix } from '../addon-lifecycle.ts';
import type { SimContext } from '../context.ts';
import { appVarName } from '../state/addon-config.ts';
import { stableId } from '../state/ids.ts';
import { appOf, attachmentsOf } from '../state/store.ts';
import type { SimAddon, SimApp, SimAttachment, SimUser } from '../state/types.ts';

const iso = (ms: number): string => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');

/** The Platform API add-on object (fields from platform-api schema.json, `add-on`), for either service. */
export function addonJson(ctx: SimContext, addon: SimAddon): Record<string, unknown> {
  const app = appOf(ctx.store, addon);
  const prefix = configPrefix(ctx, addon);
  const own = attachmentsOf(ctx.store, addon.id).find((a) => a.appId === app.id);
  const configVars = Object.keys(addon.config).map((name) => (own ? appVarName(name, prefix, own.name) : name));
  return {
    actions: [],
    addon_service: { id: stableId(`service:${addon.service}`), name: addon.service },
    app: { id: app.id, name: app.name },
    billing_entity: { id: app.id, name: app.name, type: 'app' },
    billed_price: { cents: 0, contract: false, unit: 'month' },
    config_vars: configVars,
    created_at: iso(addon.createdAt),
    id: addon.id,
    name: addon.name,
    plan: { id: stableId(`plan:${addon.service}:${addon.plan}`), name: `${addon.service}:${addon.plan}` },
    provider_id: addon.providerId,
    state: addon.state,
    updated_at: iso(addon.updatedAt),
    // Heroku's web_url leads to addons-sso.heroku.com, which signs the user in; ours does the same.
    // Heroku Postgres add-ons open in data.heroku.com instead.
    web_url: addon.postgres ? `https://data.heroku.com/datastores/${addon.id}` : `${ctx.url}/sso/${addon.id}`,
  };
}

/** The Platform API add-on attachment object (platform-api schema.json, `add-on-attachment`). */
export function attachmentJson(ctx: SimContext, attachment: SimAttachment): Record<string, unknown> {
  const addon = ctx.store.addons.get(attachment.addonId);
  const owner = addon ? ctx.store.apps.get(addon.appId) : undefined;
  const app = ctx.store.apps.get(attachment.appId);
  return {
    addon: {
      id: attachment.addonId,
      name: addon?.name ?? null,
      app: { id: owner?.id ?? null, name: owner?.name ?? null },
    },
    app: { id: attachment.appId, name: app?.name ?? null },
    created_at: iso(attachment.createdAt),
    id: attachment.id,
    log_input_url: null,
    name: attachment.name,
    namespace: null,
    updated_at: iso(attachment.createdAt),
    web_url: addon?.postgres
      ? `https://data.heroku.com/datastores/${attachment.addonId}`
      : `${ctx.url}/sso/${attachment.addonId}`,
  };
}

/** The Platform API account object (the commonly read subset). */
export function accountJson(user: SimUser): Record<string, unknown> {
  return {
    allow_tracking: true,
    beta: false,
    created_at: iso(user.createdAt),
    default_organization: null,
    default_team: null,
    delinquent_at: null,
    email: user.email,
    federated: false,
    id: user.id,
    identity_provider: null,
    last_login: iso(user.createdAt),
    name: null,
    sms_number: null,
    suspended_at: null,
    two_factor_authentication: false,
    updated_at: iso(user.createdAt),
    verified: true,
  };
}

/** The Platform API app object (the commonly read subset). */
export function appJson(ctx: SimContext, app: SimApp): Record<string, unknown> {
  const owner = ctx.store.users.get(app.ownerId);
  const last = app.releases.at(-1);
  return {
    acm: false,
    archived_at: null,
    build_stack: { id: stableId('stack:heroku-24'), name: 'heroku-24' },
    buildpack_provided_description: null,
    created_at: iso(app.createdAt),
    git_url: `https://git.heroku.com/${app.name}.git`,
    id: app.id,
    internal_routing: null,
    maintenance: false,
    name: app.name,
    organization: null,
    owner: owner ? { id: owner.id, email: owner.email } : null,
    region: { id: stableId(`region:${app.region}`), name: app.region },
    released_at: last ? iso(last.createdAt) : null,
    repo_size: null,
    slug_size: null,
    space: null,
    stack: { id: stableId('stack:heroku-24'), name: 'heroku-24' },
    team: null,
    updated_at: iso(app.updatedAt),
    web_url: `https://${app.name}.herokuapp.com/`,
  };
}

/** The Platform API collaborator object. */
export function collaboratorJson(ctx: SimContext, app: SimApp, userId: string): Record<string, unknown> {
  const user = ctx.store.users.get(userId);
  return {
    app: { id: app.id, name: app.name },
    created_at: iso(app.createdAt),
    id: stableId(`collaborator:${app.id}:${userId}`),
    permissions: [],
    role: userId === app.ownerId ? 'owner' : 'collaborator',
    updated_at: iso(app.updatedAt),
    user: { email: user?.email ?? null, federated: false, id: userId },
  };
}

/** The add-on's own config as `[{name, value}]` under canonical (manifest) names. */
export function addonConfigJson(addon: SimAddon): { name: string; value: string }[] {
  return Object.entries(addon.config).map(([name, value]) => ({ name, value }));
}
