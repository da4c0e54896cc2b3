import { randomBytes } from 'node:crypto';
import { withTransaction } from '../db/pool.ts';
import { conflict, unprocessable } from '../errors.ts';
import { recordAudit } from '../audit/audit.repo.ts';
import { findResource, type Resource } from '../resources/resources.repo.ts';
import { adoptHerokuSource, findSourceSetting, setHerokuSource, type SourceSetting } from '../backups/sources.repo.ts';
import { listResourceLiveForks } from '../forks/forks.repo.ts';
import { CONNECT_SCOPE, completeConnect, withConnectApi, type ConnectDeps } from '../heroku/connect-authorization.ts';
import { PlatformApiError } from '../heroku/platform-api.ts';
import type { ConnectApi, HerokuApp } from '../heroku/connect-api.ts';
import {
  deleteConnection,
  findConnection,
  updateConnectionSettings,
  type ConnectionRow,
} from '../heroku/connect-connections.repo.ts';

/** A Postgres database attached to the app, as the settings page offers it. */
export interface PostgresAttachment {
  name: string;
  addonName: string;
  plan: string;
}

/** Where the authorize step sends the browser, for our own OAuth client. */
export function authorizeUrl(deps: ConnectDeps, publicUrl: string, state: string): string {
  const url = new URL('/oauth/authorize', deps.oauthUrl);
  url.searchParams.set('client_id', deps.client!.id);
  url.searchParams.set('response_type', 'code');
  url.searchParams.set('scope', CONNECT_SCOPE);
  url.searchParams.set('state', state);
  url.searchParams.set('redirect_uri', callbackUrl(publicUrl));
  return url.toString();
}

export function callbackUrl(publicUrl: string): string {
  return new URL('/connect/heroku/callback', publicUrl).toString();
}

/** A fresh, unguessable `state` (256 bits). */
export function newConnectState(): string {
  return randomBytes(32).toString('base64url');
}

/**
 * Finishes a connect: stores the grant, makes sure forks have an app to live on (creates one the first
 * time; the admin may pick another), and, when the resource has no source yet, backs up the attachment
 * named at provision (default DATABASE) of the app the add-on is attached to.
 */
export async function finishConnect(
  deps: ConnectDeps,
  resource: Resource,
  code: string,
  actor: string,
): Promise<{ email: string; scratchApp: string | null; note?: string }> {
  const { api, email } = await completeConnect(deps, resource.id, code, actor);
  const connection = (await findConnection(deps.pool, resource.id))!;
  let scratchApp = connection.scratchAppName;
  let note: string | undefined;
  if (!scratchApp) {
    try {
      const app = await api.createApp(`bb-forks-${randomBytes(5).toString('hex')}`);
      await updateConnectionSettings(deps.pool, resource.id, { scratchApp: app });
      scratchApp = app.name;
    } catch (error) {
      note = `Could not create an app for forks (${(error as Error).message}); pick one below.`;
    }
  }
  await adoptDefaultSource(deps, resource.id, actor);
  await recordAudit(deps.pool, {
    resourceId: resource.id,
    actor,
    action: 'heroku.connected',
    detail: { herokuEmail: email, scratchApp },
  });
  return { email, scratchApp, ...(note ? { note } : {}) };
}

/**
 * Once the resource is both connected and knows its app, and has no source yet, backs up the attachment
 * named at provision (default DATABASE) of the app the add-on is attached to. Connecting and learning
 * the app (the grant exchange job) happen in either order: each calls this after its own write, so
 * whichever comes second sees both and sets the source. True when this call set it.
 */
export async function adoptDefaultSource(
  deps: Pick<ConnectDeps, 'pool'>,
  resourceId: string,
  actor: string,
): Promise<boolean> {
  const resource = await findResource(deps.pool, resourceId);
  if (!resource?.appName || !(await findConnection(deps.pool, resourceId))) return false;
  return adoptHerokuSource(
    deps.pool,
    resourceId,
    { appName: resource.appName, attachmentName: resource.databaseAttachment },
    actor,
  );
}

/** What the settings page shows. Heroku is asked live for the choices; a failure there is shown, not thrown. */
export interface ConnectionView {
  connection: ConnectionRow | undefined;
  source: SourceSetting | undefined;
  attachments: PostgresAttachment[];
  apps: HerokuApp[];
  liveProblem?: string;
}

export async function loadConnectionView(deps: ConnectDeps, resource: Resource): Promise<ConnectionView> {
  const connection = await findConnection(deps.pool, resource.id);
  const source = await findSourceSetting(deps.pool, resource.id);
  const view: ConnectionView = { connection, source, attachments: [], apps: [] };
  if (!connection || connection.status !== 'connected' || !deps.client) return view;
  try {
    await withConnectApi(deps, resource.id, async (api) => {
      view.apps = await api.listApps();
      if (resource.appName) view.attachments = await postgresAttachments(api, resource.appName);
    });
  } catch (error) {
    view.liveProblem = (error as Error).message;
    // A refused grant has just been marked; show that state.
    view.connection = await findConnection(deps.pool, resource.id);
  }
  return view;
}

/** The app's attachments whose add-on is Heroku Postgres. */
export async function postgresAttachments(api: ConnectApi, appName: string): Promise<PostgresAttachment[]> {
  const found: PostgresAttachment[] = [];
  for (const attachment of await api.attachments(appName)) {
    const addon = await api.addon(attachment.addon.id).catch((error: unknown) => {
      if (error instanceof PlatformApiError && (error.statusCode === 404 || error.statusCode === 403)) return undefined;
      throw error;
    });
    const service = addon?.addon_service?.name ?? addon?.plan.name.split(':')[0];
    if (addon && service === 'heroku-postgresql')
      found.push({ name: attachment.name, addonName: addon.name, plan: addon.plan.name });
  }
  return found;
}

/** The admin's choices on the settings page; each is optional. */
export interface SettingsChange {
  attachment?: string;
  scratchApp?: string;
  createScratchApp?: boolean;
  forkPlan?: string;
  allowDirectFallback?: boolean;
}

export async function changeSettings(
  deps: ConnectDeps,
  resource: Resource,
  change: SettingsChange,
  actor: string,
): Promise<void> {
  const connection = await findConnection(deps.pool, resource.id);
  if (!connection) throw conflict('Connect Heroku first.');
  // Everything is checked before anything is written, so a refused part leaves the rest unchanged.
  await withConnectApi(deps, resource.id, async (api) => {
    let source: { appName: string; attachmentName: string } | undefined;
    if (change.attachment !== undefined) {
      if (!resource.appName) throw conflict('The app this add-on is attached to is not known yet.');
      const choices = await postgresAttachments(api, resource.appName);
      if (!choices.some((c) => c.name === change.attachment))
        throw unprocessable(`${change.attachment} is not a Postgres attachment of ${resource.appName}.`);
      source = { appName: resource.appName, attachmentName: change.attachment };
    }
    let scratchApp: Awaited<ReturnType<typeof api.app>> | undefined;
    if (!change.createScratchApp && change.scratchApp && change.scratchApp !== connection.scratchAppName) {
      if (change.scratchApp === resource.appName)
        throw unprocessable(
          'Forks must not go on the production app: a new config var there means a release and a restart.',
        );
      scratchApp = await api.app(change.scratchApp).catch((error: unknown) => {
        if (error instanceof PlatformApiError && (error.statusCode === 404 || error.statusCode === 403))
          throw unprocessable(`The connected account cannot use the app ${change.scratchApp}.`);
        throw error;
      });
    }
    if (change.createScratchApp) scratchApp = await api.createApp(`bb-forks-${randomBytes(5).toString('hex')}`);
    if (source) await setHerokuSource(deps.pool, resource.id, source, actor);
    if (scratchApp) await updateConnectionSettings(deps.pool, resource.id, { scratchApp });
  });
  await updateConnectionSettings(deps.pool, resource.id, {
    ...(change.forkPlan ? { forkPlan: change.forkPlan } : {}),
    ...(change.allowDirectFallback !== undefined ? { allowDirectFallback: change.allowDirectFallback } : {}),
  });
  await recordAudit(deps.pool, {
    resourceId: resource.id,
    actor,
    action: 'heroku.settings_changed',
    detail: { ...change },
  });
}

/** Forgets the grant. Refused while a fork stands: only the grant can destroy it. */
export async function disconnect(deps: ConnectDeps, resource: Resource, actor: string): Promise<void> {
  await withTransaction(deps.pool, async (tx) => {
    const forks = await listResourceLiveForks(tx, resource.id);
    if (forks.length > 0)
      throw conflict(
        'A fork of a running backup still exists; disconnect after it has been destroyed (cancel the backup, then try again in a minute).',
      );
    await deleteConnection(tx, resource.id);
    await recordAudit(tx, { resourceId: resource.id, actor, action: 'heroku.disconnected' });
  });
}
