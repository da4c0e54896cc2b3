import { randomUUID } from 'node:crypto';

/** A raw call to the provider as Heroku's add-on manager makes it, with the answer parsed. */
export interface ManagerCall {
  status: number;
  body: unknown;
  contentType: string | null;
}

/**
 * Sends Partner API requests straight to the provider (for cases the simulator's well-behaved driver
 * would never send: wrong credentials, broken bodies). Every answer must be JSON, so this fails loudly
 * on anything else.
 */
export async function callProvider(
  baseUrl: string,
  method: string,
  path: string,
  options: { auth?: string | null; body?: unknown; rawBody?: string } = {},
): Promise<ManagerCall> {
  const headers: Record<string, string> = { accept: 'application/vnd.heroku-addons+json; version=3' };
  if (options.auth) headers.authorization = 'Basic ' + Buffer.from(options.auth).toString('base64');
  let body: string | undefined;
  if (options.rawBody !== undefined) body = options.rawBody;
  else if (options.body !== undefined) body = JSON.stringify(options.body);
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetch(new URL(path, baseUrl), { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await response.text();
  let parsed: unknown = null;
  if (response.status !== 204) {
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new Error(
        `provider answered ${method} ${path} with ${response.status} and a non-JSON body: ${text.slice(0, 200)}`,
      );
    }
  }
  return { status: response.status, body: parsed, contentType: response.headers.get('content-type') };
}

/** A v3 provision body like the one Heroku sends (heroku-contract.md §1.2). */
export function provisionBody(overrides: Record<string, unknown> = {}): Record<string, unknown> & { uuid: string } {
  const uuid = randomUUID();
  return {
    uuid,
    name: `big-backup-${uuid.slice(0, 8)}`,
    plan: 'basic',
    region: 'amazon-web-services::us-east-1',
    callback_url: `https://api.heroku.com/addons/${uuid}`,
    oauth_grant: {
      code: randomUUID(),
      expires_at: new Date(Date.now() + 300_000).toISOString(),
      type: 'authorization_code',
    },
    options: {},
    log_input_url: 'https://token:t.example@1.us.logplex.io/logs',
    ...overrides,
  };
}
