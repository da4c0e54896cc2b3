import type { SimContext } from '../context.ts';
import { ensureApp, type AppSpec } from '../state/apps.ts';
import { createPartnerAuthorization, issueGrantCode } from '../state/authorizations.ts';
import { newAddonName, newId } from '../state/ids.ts';
import type { ProvisionBody, SimAddon, SimApp } from '../state/types.ts';
import { fullRegion, shortRegion } from './regions.ts';
import { logInputUrl } from '../logplex/routes.ts';

/** What a customer asked for with `heroku addons:create`. Everything is optional. */
export interface ProvisionInput {
  /** App name, or a spec with owner/collaborators; created when missing. Default: a new app. */
  app?: string | AppSpec;
  /** Plan slug without the service prefix; default `basic`. */
  plan?: string;
  /** Short (`us`, `eu`) or full (`amazon-web-services::us-east-1`) region; default: the app's. */
  region?: string;
  /** The customer's `-- --key value` options. */
  options?: Record<string, string>;
  /** Heroku's resource uuid; default: a fresh one. */
  uuid?: string;
  /** Add-on name; default `<service>-<adjective>-<number>`. */
  name?: string;
  /** Include an oauth_grant (default true); false sends `oauth_grant: null`. */
  grant?: boolean;
  /** Send `log_input_url` (manifest requires `log_input`, as big-backup's does): default true; it points at the simulator's Logplex input. */
  logInput?: boolean;
  /** Send `log_drain_token` (manifest requires `syslog_drain`). */
  syslogDrain?: boolean;
  /** Attachment name on the app; default the config var prefix (then `_2`, `_3`… if taken). */
  attachmentName?: string;
  /** Undocumented fields to add to the body (the contract says providers must tolerate them). */
  extraFields?: Record<string, unknown>;
}

/** The add-on record and grant created before Heroku sends the provision request. */
export interface PreparedProvision {
  addon: SimAddon;
  app: SimApp;
  body: ProvisionBody;
  grantCode: string | null;
}

/**
 * Does what Heroku does before calling the provider: ensures the app, records the add-on as
 * `provisioning` (billing starts now), attaches it, and registers a grant code with id.heroku.com
 * bound to a new partner authorization for this add-on only.
 */
export function prepareProvision(ctx: SimContext, input: ProvisionInput): PreparedProvision {
  const now = ctx.now();
  const spec: AppSpec = typeof input.app === 'string' ? { name: input.app } : { ...input.app };
  if (input.region && !spec.region) spec.region = shortRegion(input.region);
  const app = ensureApp(ctx.store, spec, now);
  const uuid = input.uuid ?? newId();
  if (ctx.store.addons.has(uuid))
    throw new Error(`simulator: add-on ${uuid} already exists; use replayProvision to resend it`);

  const authorization = input.grant === false ? null : createPartnerAuthorization(ctx.store, uuid, now);
  const grant = authorization
    ? issueGrantCode(ctx.store, authorization.id, ctx.options.grantCodeTtlSeconds, now)
    : null;
  const body: ProvisionBody = {
    uuid,
    name: input.name ?? newAddonName(ctx.options.addon.id),
    plan: input.plan ?? 'basic',
    region: fullRegion(input.region ?? app.region),
    callback_url: `${ctx.url}/addons/${uuid}`,
    oauth_grant: grant
      ? { code: grant.code, expires_at: herokuTime(grant.expiresAt), type: 'authorization_code' }
      : null,
    options: { ...input.options },
    ...(input.logInput !== false ? { log_input_url: logInputUrl(ctx, uuid) } : {}),
    ...(input.syslogDrain ? { log_drain_token: `d.${uuid}` } : {}),
    ...input.extraFields,
  };
  const addon: SimAddon = {
    id: uuid,
    name: body.name,
    appId: app.id,
    service: ctx.options.addon.id,
    plan: body.plan,
    region: body.region,
    state: 'provisioning',
    providerId: null,
    config: {},
    options: body.options,
    authorizationId: authorization?.id ?? null,
    provisionBody: body,
    postgres: null,
    message: null,
    failure: null,
    asyncAcceptedAt: null,
    pendingDeprovision: false,
    createdAt: now,
    updatedAt: now,
    provisionedAt: null,
    deprovisionedAt: null,
  };
  ctx.store.addons.set(uuid, addon);
  const attachmentName = input.attachmentName ?? freeAttachmentName(ctx, app, ctx.options.addon.configVarsPrefix);
  const attachmentId = newId();
  ctx.store.attachments.set(attachmentId, {
    id: attachmentId,
    addonId: uuid,
    appId: app.id,
    name: attachmentName,
    createdAt: now,
  });
  return { addon, app, body, grantCode: grant?.code ?? null };
}

/** Heroku's documented timestamp style for `expires_at`: `2016-03-03T18:01:31-0800` (here in UTC, `+0000`). */
function herokuTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, '+0000');
}

function freeAttachmentName(ctx: SimContext, app: SimApp, base: string): string {
  const taken = new Set([...ctx.store.attachments.values()].filter((a) => a.appId === app.id).map((a) => a.name));
  if (!taken.has(base)) return base;
  for (let n = 2; ; n++) if (!taken.has(`${base}_${n}`)) return `${base}_${n}`;
}
