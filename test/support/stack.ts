import { after } from 'node:test';
import { startHerokuSimulator, type HerokuSimulator, type HerokuSimulatorOptions } from '../../dev/simulator/index.ts';
import { freePort } from '../../dev/db/local-cluster.ts';
import { startTestApp, testSecrets, type TestApp } from './app.ts';
import type { RateLimits } from '../../src/http/rate-limits.ts';

/** Our app and the Heroku simulator, pointed at each other. */
export interface Stack {
  app: TestApp;
  sim: HerokuSimulator;
  secrets: ReturnType<typeof testSecrets>;
}

/**
 * Starts the web process (and, unless told not to, the worker) against a fresh database, with a Heroku
 * simulator playing Heroku for it. Call at the top level of a test file; both stop when it ends.
 */
export async function startStack(
  options: {
    worker?: boolean;
    sim?: Partial<HerokuSimulatorOptions>;
    env?: Record<string, string>;
    nowSeconds?: () => number;
    /** Smaller limits than production's, for tests of the limits themselves. */
    rateLimits?: RateLimits;
  } = {},
): Promise<Stack> {
  const secrets = testSecrets();
  const port = await freePort();
  const publicUrl = options.env?.PUBLIC_URL ?? `http://127.0.0.1:${port}`;
  const sim = await startHerokuSimulator({
    addon: {
      id: 'big-backup',
      password: secrets.HEROKU_ADDON_PASSWORD,
      ssoSalt: secrets.HEROKU_SSO_SALT,
      baseUrl: `http://127.0.0.1:${port}/heroku/resources`,
      ssoUrl: `http://127.0.0.1:${port}/sso/login`,
    },
    oauthClientSecret: secrets.HEROKU_OAUTH_CLIENT_SECRET,
    ...options.sim,
  });
  after(() => sim.stop());
  const app = await startTestApp(
    { ...secrets, HEROKU_API_URL: sim.url, HEROKU_OAUTH_URL: sim.url, PUBLIC_URL: publicUrl, ...options.env },
    {
      port,
      ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
      ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
    },
  );
  if (options.worker !== false) await app.startWorker();
  return { app, sim, secrets };
}

/** A browser-like client: keeps cookies, never follows redirects on its own. */
export class Browser {
  readonly cookies = new Map<string, string>();
  readonly baseUrl: string;
  constructor(baseUrl: string) {
    this.baseUrl = baseUrl;
  }

  async request(
    method: string,
    path: string,
    options: { form?: Record<string, string>; headers?: Record<string, string> } = {},
  ): Promise<Response> {
    const headers: Record<string, string> = { accept: 'text/html', ...options.headers };
    if (this.cookies.size) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let body: string | undefined;
    if (options.form) {
      headers['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(options.form).toString();
    }
    const response = await fetch(new URL(path, this.baseUrl), {
      method,
      headers,
      redirect: 'manual',
      ...(body !== undefined ? { body } : {}),
    });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const [name, ...value] = pair!.split('=');
      if (/expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name!.trim());
      else this.cookies.set(name!.trim(), value.join('='));
    }
    return whole(response);
  }

  /** The session's CSRF token, read from a dashboard page's `<meta name="csrf-token">`. */
  async csrfToken(page = '/dashboard'): Promise<string> {
    const html = await (await this.request('GET', page)).text();
    const match = /<meta name="csrf-token" content="([^"]+)">/.exec(html);
    if (!match) throw new Error(`no CSRF token on ${page}`);
    return match[1]!;
  }

  /** Submits a dashboard form the way the page would: same origin, with the session's CSRF token. */
  async submit(path: string, form: Record<string, string> = {}): Promise<Response> {
    const _csrf = await this.csrfToken();
    return this.request('POST', path, {
      form: { ...form, _csrf },
      headers: { origin: new URL(this.baseUrl).origin, 'sec-fetch-site': 'same-origin' },
    });
  }

  /** Posts a simulator-built SSO form as Heroku's auto-submitting page would. */
  signIn(form: { action: string; params: Record<string, string> }): Promise<Response> {
    return this.request('POST', new URL(form.action).pathname, {
      form: form.params,
      headers: { origin: 'https://dashboard.heroku.com', 'sec-fetch-site': 'cross-site' },
    });
  }
}

/** How a test authenticates a call to /api/v1: an API token, or a signed-in Browser with its CSRF token. */
export interface ApiAuth {
  token?: string;
  browser?: Browser;
  csrf?: string;
  body?: unknown;
  /** Sent as X-Forwarded-For, as Heroku's router would (the app trusts one hop). */
  ip?: string;
}

/** Calls `/api/v1` + path as a script (Bearer token) or as the dashboard's own JavaScript (session cookie + CSRF header). */
export function apiCall(baseUrl: string, method: string, path: string, options: ApiAuth = {}): Promise<Response> {
  const headers: Record<string, string> = { accept: 'application/json' };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.browser?.cookies.size) {
    headers.cookie = [...options.browser.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    // As the browser sends them for the dashboard's own scripts.
    headers.origin = new URL(baseUrl).origin;
    headers['sec-fetch-site'] = 'same-origin';
  }
  if (options.csrf) headers['x-csrf-token'] = options.csrf;
  if (options.ip) headers['x-forwarded-for'] = options.ip;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  return fetch(new URL('/api/v1' + path, baseUrl), {
    method,
    headers,
    ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
  }).then(whole);
}

/**
 * The response once its last byte arrived, as a browser finishes loading a page. fetch resolves at the
 * headers, but express-session stores a session's new expiry (a rolling session's touch) while the last
 * byte is held back: a test that went on at the status alone raced that write, so an expiry it backdated
 * next could be overwritten by the request before it.
 */
async function whole(response: Response): Promise<Response> {
  const body = await response.arrayBuffer();
  const empty = [101, 204, 205, 304].includes(response.status);
  return new Response(empty ? null : body, {
    status: response.status,
    statusText: response.statusText,
    headers: response.headers,
  });
}
