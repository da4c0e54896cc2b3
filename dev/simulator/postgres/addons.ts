import { randomBytes, randomInt } from 'node:crypto';
import { markDeprovisioned, markProvisioned } from '../addon-lifecycle.ts';
import type { SimContext } from '../context.ts';
import { fullRegion } from '../manager/regions.ts';
import { writeAddonConfig } from '../state/addon-config.ts';
import { ensureApp } from '../state/apps.ts';
import { newAddonName, newId } from '../state/ids.ts';
import { findAddon, findApp } from '../state/store.ts';
import type { SimAddon, SimApp, SimPostgresDatabase } from '../state/types.ts';
import {
  POSTGRES_PREFIX,
  POSTGRES_SERVICE,
  POSTGRES_URL_VAR,
  normaliseAttachmentName,
  postgresPlanSlug,
} from './plans.ts';

/** A `heroku-postgresql` add-on as tests see it (`sim.postgresAddons()`). */
export interface PostgresAddonSummary {
  id: string;
  name: string;
  appName: string;
  state: string;
  /** Source add-on id, for forks. */
  forkOf?: string;
  databaseName: string;
}

/** What `sim.attachPostgres` takes. */
export interface AttachPostgresOptions {
  /** URL of an existing, real database. */
  url: string;
  /** Default `heroku-postgresql:standard-0`; the bare slug (`standard-0`) works too. */
  plan?: string;
  /** Attachment name; default `DATABASE`. */
  as?: string;
}

/** Names of the databases the simulator creates (new add-ons and forks); no other database is named so. */
export const CREATED_DATABASE_NAME = /^sim_(fork|db)_[0-9a-f]{12}$/;

/** The add-on's current database URL (what `<ATTACHMENT>_URL` holds), or null before it is ready. */
export function postgresUrl(addon: SimAddon): string | null {
  return addon.config[POSTGRES_URL_VAR] ?? null;
}

/**
 * Registers an existing database as a provisioned `heroku-postgresql` add-on on the app (created by
 * name when missing) and sets `<AS>_URL` there in one release. The database stays the test's: it is
 * never dropped by the simulator.
 */
export function attachPostgres(ctx: SimContext, appIdOrName: string, opts: AttachPostgresOptions): SimAddon {
  const now = ctx.now();
  const app = findApp(ctx.store, appIdOrName) ?? ensureApp(ctx.store, { name: appIdOrName }, now);
  const planName = opts.plan ?? `${POSTGRES_SERVICE}:standard-0`;
  const slug = postgresPlanSlug(planName.includes(':') ? planName : `${POSTGRES_SERVICE}:${planName}`);
  if (!slug) throw new Error(`simulator: ${planName} is not a heroku-postgresql plan`);
  const as = normaliseAttachmentName(opts.as ?? 'DATABASE');
  if (!as) throw new Error(`simulator: ${opts.as} is not a valid attachment name`);
  if (attachmentTaken(ctx, app, as))
    throw new Error(`simulator: app ${app.name} already has an attachment named ${as}`);
  const databaseName = decodeURIComponent(new URL(opts.url).pathname.replace(/^\//, ''));
  const addon = newPostgresAddon(
    ctx,
    app,
    slug,
    null,
    { databaseName, origin: 'attached', forkOf: null, fault: null },
    as,
  );
  addon.state = 'provisioned';
  addon.provisionedAt = now;
  writeAddonConfig(ctx.store, addon, { [POSTGRES_URL_VAR]: opts.url }, POSTGRES_PREFIX, {
    release: true,
    description: `Attach ${as} (@ref:${addon.name})`,
    now,
  });
  return addon;
}

/** As after `heroku pg:credentials:rotate`: the add-on's URL changes on every attached app (one release each). */
export function rotatePostgresCredentials(ctx: SimContext, addonIdOrName: string, newUrl: string): void {
  const addon = findAddon(ctx.store, addonIdOrName);
  if (!addon?.postgres || addon.state === 'deprovisioned')
    throw new Error(`simulator: no live heroku-postgresql add-on ${addonIdOrName}`);
  writeAddonConfig(ctx.store, addon, { [POSTGRES_URL_VAR]: newUrl }, POSTGRES_PREFIX, {
    release: addon.state === 'provisioned',
    description: `Update ${POSTGRES_PREFIX} by ${POSTGRES_SERVICE}`,
    now: ctx.now(),
  });
}

/** Every `heroku-postgresql` add-on ever made, deprovisioned ones included (filter on `state`). */
export function postgresSummaries(ctx: SimContext): PostgresAddonSummary[] {
  return [...ctx.store.addons.values()]
    .filter((a) => a.postgres)
    .map((addon) => {
      const pg = addon.postgres as SimPostgresDatabase;
      return {
        id: addon.id,
        name: addon.name,
        appName: ctx.store.apps.get(addon.appId)?.name ?? '',
        state: addon.state,
        ...(pg.forkOf ? { forkOf: pg.forkOf } : {}),
        databaseName: pg.databaseName,
      };
    });
}

/** What a `POST /apps/{app}/addons` for Heroku Postgres asked for, already validated. */
export interface NewPostgresRequest {
  slug: string;
  name: string | null;
  attachmentName: string;
  /** The live add-on to fork, or null for an empty database. */
  source: SimAddon | null;
  config: Record<string, string>;
}

/**
 * Records a new database (or fork) as `provisioning` and schedules it: after `forkReadyAfterMs` the
 * database is created on the simulator's server (a fork is a pg_dump | pg_restore copy of the source
 * as it is then), `<ATTACHMENT>_URL` is set and the app gets one release. Fork faults set at creation
 * keep it provisioning forever, or make it vanish half-way through the wait.
 */
export function createPostgresAddon(ctx: SimContext, app: SimApp, req: NewPostgresRequest): SimAddon {
  const kind = req.source ? 'fork' : 'db';
  const database: SimPostgresDatabase = {
    databaseName: `sim_${kind}_${randomBytes(6).toString('hex')}`,
    origin: 'created',
    forkOf: req.source?.id ?? null,
    fault: req.source ? ctx.faults.forkFault : null,
  };
  const addon = newPostgresAddon(ctx, app, req.slug, req.name, database, req.attachmentName);
  addon.options = { ...req.config };
  const delay = ctx.options.forkReadyAfterMs;
  if (database.fault === 'never-ready') return addon;
  if (database.fault === 'vanish') {
    ctx.deadlines.start(addon.id, Math.floor(delay / 2), () => {
      markDeprovisioned(ctx, addon, { failure: 'simulated fault: the fork was deprovisioned before it became ready' });
    });
    return addon;
  }
  ctx.deadlines.start(addon.id, delay, () => track(ctx, addon.id, (signal) => makeDatabase(ctx, addon, signal)));
  return addon;
}

/**
 * Deprovisions a `heroku-postgresql` add-on: its var leaves the app (one release if it was live),
 * a copy in flight is stopped, and a database the simulator created is dropped before this returns.
 */
export async function destroyPostgresAddon(ctx: SimContext, addon: SimAddon): Promise<void> {
  markDeprovisioned(ctx, addon);
  const job = ctx.postgres.work.get(addon.id);
  job?.controller.abort();
  await job?.done;
  if (addon.postgres?.origin === 'created' && ctx.postgres.server) {
    // Deprovisioned already, so stopPostgres would skip it: it waits for this drop instead.
    const drop = ctx.postgres.server.dropDatabase(addon.postgres.databaseName);
    ctx.postgres.drops.add(drop);
    try {
      await drop;
    } finally {
      ctx.postgres.drops.delete(drop);
    }
  }
}

/** Simulator shutdown: stops copies, waits for drops under way, and drops every database it created that still exists. */
export async function stopPostgres(ctx: SimContext): Promise<void> {
  const jobs = [...ctx.postgres.work.values()];
  for (const job of jobs) job.controller.abort();
  await Promise.all(jobs.map((job) => job.done));
  await Promise.allSettled([...ctx.postgres.drops]);
  const server = ctx.postgres.server;
  if (!server) return;
  for (const addon of ctx.store.addons.values()) {
    if (addon.postgres?.origin === 'created' && addon.state !== 'deprovisioned') {
      await server.dropDatabase(addon.postgres.databaseName).catch(() => {});
    }
  }
}

function newPostgresAddon(
  ctx: SimContext,
  app: SimApp,
  slug: string,
  name: string | null,
  database: SimPostgresDatabase,
  attachmentName: string,
): SimAddon {
  const now = ctx.now();
  const addon: SimAddon = {
    id: newId(),
    name: name ?? newAddonName('postgresql'),
    appId: app.id,
    service: POSTGRES_SERVICE,
    plan: slug,
    region: fullRegion(app.region),
    state: 'provisioning',
    providerId: `resource${randomInt(10_000_000, 100_000_000)}@heroku.com`,
    config: {},
    options: {},
    authorizationId: null,
    provisionBody: null,
    postgres: database,
    message: null,
    failure: null,
    asyncAcceptedAt: null,
    pendingDeprovision: false,
    createdAt: now,
    updatedAt: now,
    provisionedAt: null,
    deprovisionedAt: null,
  };
  ctx.store.addons.set(addon.id, addon);
  const attachmentId = newId();
  ctx.store.attachments.set(attachmentId, {
    id: attachmentId,
    addonId: addon.id,
    appId: app.id,
    name: attachmentName,
    createdAt: now,
  });
  return addon;
}

/** True when the app already has an attachment (of any add-on) with this name. */
export function attachmentTaken(ctx: SimContext, app: SimApp, name: string): boolean {
  return [...ctx.store.attachments.values()].some((a) => a.appId === app.id && a.name === name);
}

async function makeDatabase(ctx: SimContext, addon: SimAddon, signal: AbortSignal): Promise<void> {
  const server = ctx.postgres.server;
  const pg = addon.postgres as SimPostgresDatabase;
  if (!server || addon.state !== 'provisioning') return;
  try {
    await server.createDatabase(pg.databaseName);
    if (pg.forkOf) {
      const source = ctx.store.addons.get(pg.forkOf);
      const sourceUrl = source && source.state !== 'deprovisioned' ? postgresUrl(source) : null;
      if (!sourceUrl) throw new Error('the source database was deprovisioned');
      await server.copyInto(sourceUrl, pg.databaseName, signal);
    }
  } catch (error) {
    await server.dropDatabase(pg.databaseName).catch(() => {});
    if (addon.state === 'provisioning') {
      markDeprovisioned(ctx, addon, { failure: `could not create the database: ${(error as Error).message}` });
    }
    return;
  }
  if (addon.state !== 'provisioning') {
    await server.dropDatabase(pg.databaseName).catch(() => {});
    return;
  }
  const attachment = [...ctx.store.attachments.values()].find((a) => a.addonId === addon.id);
  const url = pg.fault === 'unreachable' ? unreachable(server.urlFor(pg.databaseName)) : server.urlFor(pg.databaseName);
  writeAddonConfig(ctx.store, addon, { [POSTGRES_URL_VAR]: url }, POSTGRES_PREFIX, {
    release: false,
    description: '',
    now: ctx.now(),
  });
  markProvisioned(ctx, addon, `Attach ${attachment?.name ?? addon.name} (@ref:${addon.name})`);
}

/** The same URL on port 1 of its host, where nothing listens: connections are refused. */
function unreachable(url: string): string {
  const parsed = new URL(url);
  parsed.port = '1';
  return parsed.toString();
}

function track(ctx: SimContext, addonId: string, work: (signal: AbortSignal) => Promise<void>): void {
  const controller = new AbortController();
  const done = work(controller.signal)
    .catch((error: unknown) => console.error('heroku simulator: postgres work failed', error))
    .finally(() => ctx.postgres.work.delete(addonId));
  ctx.postgres.work.set(addonId, { controller, done });
}
