import { createHash, timingSafeEqual } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import express, { type Request, type RequestHandler, type Response } from 'express';

/** Credentials shared by the simulator and the test provider. */
export const SECRETS = {
  addonId: 'big-backup',
  password: 's3cr3t-pass-1234',
  ssoSalt: 'KtdFl80yzJvkEvq7bmJuQkuXKtV2nx6T',
  clientSecret: 'oauth-client-secret-for-tests',
} as const;

/** Tokens the provider holds for one resource. */
export interface HeldTokens {
  access: string;
  refresh: string;
}

/** One resource the provider created. */
export interface ProviderResource {
  id: string;
  plan: string;
  tokens: HeldTokens | null;
  /** The token endpoint's answer (or error) when the grant was exchanged. */
  exchange: { status: number; body: unknown } | null;
}

/** A request the provider received on its Heroku-facing routes. */
export interface ReceivedRequest {
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** Handle on the tiny provider used to exercise the simulator. */
export interface ContractProvider {
  url: string;
  baseUrl: string;
  ssoUrl: string;
  /** `sync` answers provision 200; `async` answers 202 and waits for finishAsync(). */
  mode: 'sync' | 'async';
  /** False: leave the grant code unredeemed (tests redeem it by hand). */
  exchangeGrants: boolean;
  /** When set, answers Heroku-facing requests instead of the normal logic (return true when answered). */
  override: ((req: Request, res: Response) => boolean | Promise<boolean>) | null;
  resources: Map<string, ProviderResource>;
  received: ReceivedRequest[];
  /** Set once the simulator is up: where id.heroku.com and api.heroku.com are. */
  herokuUrl: string;
  /** Completes an async provision: PATCH config, then actions/provision. */
  finishAsync(uuid: string, opts?: { configName?: string }): Promise<{ patch: Response_; provision: Response_ }>;
  /** Calls the Platform API with the resource's access token. */
  api(
    uuid: string,
    method: string,
    path: string,
    opts?: { body?: unknown; style?: 'bearer' | 'basic'; token?: string },
  ): Promise<Response_>;
  /** Posts the form to /oauth/token. */
  token(fields: Record<string, string>): Promise<Response_>;
  stop(): Promise<void>;
}

/** Status and parsed JSON of a fetch. */
export interface Response_ {
  status: number;
  body: any;
  headers: Headers;
}

/**
 * A small provider that follows heroku-contract.md: checks Basic auth, is idempotent per uuid,
 * exchanges the grant at once, answers JSON everywhere, verifies SSO tokens independently.
 */
export async function startContractProvider(): Promise<ContractProvider> {
  const app = express();
  const pending = new Map<string, Promise<ProviderResource>>();
  const provider = {
    mode: 'sync',
    exchangeGrants: true,
    override: null,
    resources: new Map(),
    received: [],
    herokuUrl: '',
  } as unknown as ContractProvider;

  const requireBasic: RequestHandler = (req, res, next) => {
    const expected = 'Basic ' + Buffer.from(`${SECRETS.addonId}:${SECRETS.password}`).toString('base64');
    if (req.get('authorization') !== expected) return void res.status(401).json({ message: 'Unauthorized' });
    next();
  };
  const record: RequestHandler = (req, _res, next) => {
    provider.received.push({ method: req.method, path: req.path, headers: { ...req.headers }, body: req.body });
    next();
  };
  const overridable: RequestHandler = async (req, res, next) => {
    if (provider.override && (await provider.override(req, res))) return;
    next();
  };

  app.use('/heroku/resources', express.json(), record, overridable, requireBasic);

  app.post('/heroku/resources', async (req, res) => {
    const body = req.body as { uuid?: unknown; plan?: unknown; oauth_grant?: { code?: unknown } | null };
    if (typeof body?.uuid !== 'string' || typeof body.plan !== 'string')
      return void res.status(422).json({ message: 'uuid and plan are required' });
    const uuid = body.uuid;
    // Concurrent copies of the same request share one creation: idempotency per uuid (contract §1.1).
    let creation = pending.get(uuid);
    if (!creation) {
      creation = create(uuid, body.plan, typeof body.oauth_grant?.code === 'string' ? body.oauth_grant.code : null);
      pending.set(uuid, creation);
    }
    const resource = await creation;
    if (provider.mode === 'async')
      return void res.status(202).json({ id: resource.id, message: 'Provisioning; this takes a moment.' });
    res.json({
      id: resource.id,
      config: { BIG_BACKUP_URL: `${provider.url}/r/${uuid}` },
      message: 'big-backup is ready.',
    });
  });

  app.put('/heroku/resources/:id', (req, res) => {
    const resource = provider.resources.get(req.params.id);
    if (!resource) return void res.status(404).json({ message: 'unknown resource' });
    const plan = (req.body as { plan?: unknown }).plan;
    if (plan === 'tiny') return void res.status(422).json({ message: 'Retention exceeds the tiny plan.' });
    resource.plan = String(plan);
    res.json({
      config: { BIG_BACKUP_URL: `${provider.url}/r/${resource.id}?plan=${resource.plan}` },
      message: `Now on ${resource.plan}.`,
    });
  });

  app.delete('/heroku/resources/:id', (req, res) => {
    provider.resources.delete(req.params.id);
    res.status(204).end();
  });

  app.post('/sso/login', express.urlencoded({ extended: false }), (req, res) => {
    const f = req.body as Record<string, string | undefined>;
    const ts = Number(f.timestamp);
    const nowSeconds = Math.floor(Date.now() / 1000);
    if (!f.resource_id || !Number.isInteger(ts) || Math.abs(nowSeconds - ts) > 300)
      return void res.status(403).json({ message: 'stale' });
    const ok =
      f.user_scoped_resource_token !== undefined
        ? same(
            f.user_scoped_resource_token,
            sha('sha256', `${f.resource_id}:${SECRETS.ssoSalt}:${ts}:${f.user_id}:${f.email}`),
          )
        : f.resource_token !== undefined &&
          same(f.resource_token, sha('sha1', `${f.resource_id}:${SECRETS.ssoSalt}:${ts}`));
    if (!ok) return void res.status(403).json({ message: 'bad token' });
    res.redirect(303, `/dashboard/${f.resource_id}`);
  });

  async function create(uuid: string, plan: string, code: string | null): Promise<ProviderResource> {
    const resource: ProviderResource = { id: uuid, plan, tokens: null, exchange: null };
    if (code && provider.exchangeGrants) {
      const r = await provider.token({ grant_type: 'authorization_code', code, client_secret: SECRETS.clientSecret });
      resource.exchange = { status: r.status, body: r.body };
      if (r.status === 200) resource.tokens = { access: r.body.access_token, refresh: r.body.refresh_token };
    }
    provider.resources.set(uuid, resource);
    return resource;
  }

  provider.token = async (fields) =>
    call(`${provider.herokuUrl}/oauth/token`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams(fields).toString(),
    });

  provider.api = async (uuid, method, path, opts = {}) => {
    const token = opts.token ?? provider.resources.get(uuid)?.tokens?.access;
    if (!token) throw new Error(`test provider holds no token for ${uuid}`);
    const authorization =
      opts.style === 'basic' ? 'Basic ' + Buffer.from(':' + token).toString('base64') : `Bearer ${token}`;
    return call(`${provider.herokuUrl}${path}`, {
      method,
      headers: {
        Accept: 'application/vnd.heroku+json; version=3',
        Authorization: authorization,
        ...(opts.body ? { 'Content-Type': 'application/json' } : {}),
      },
      ...(opts.body ? { body: JSON.stringify(opts.body) } : {}),
    });
  };

  provider.finishAsync = async (uuid, opts = {}) => {
    const patch = await provider.api(uuid, 'PATCH', `/addons/${uuid}/config`, {
      body: { config: [{ name: opts.configName ?? 'BIG_BACKUP_URL', value: `${provider.url}/r/${uuid}` }] },
    });
    const provision = await provider.api(uuid, 'POST', `/addons/${uuid}/actions/provision`);
    return { patch, provision };
  };

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  provider.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  provider.baseUrl = `${provider.url}/heroku/resources`;
  provider.ssoUrl = `${provider.url}/sso/login`;
  provider.stop = () =>
    new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  return provider;
}

/** fetch + JSON parse (body null when not JSON). */
export async function call(url: string, init: RequestInit = {}): Promise<Response_> {
  const res = await fetch(url, { redirect: 'manual', ...init });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = text;
  }
  return { status: res.status, body, headers: res.headers };
}

function sha(algorithm: 'sha1' | 'sha256', input: string): string {
  return createHash(algorithm).update(input).digest('hex');
}

function same(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
