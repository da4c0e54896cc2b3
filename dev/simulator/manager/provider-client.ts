import type { SimContext } from '../context.ts';
import type { ProviderCall, Violation } from '../log.ts';

/** Credentials on a call to the provider: the manifest's, deliberately wrong ones (kensa's `wrong:secret`), none, or explicit. */
export type ProviderAuth = 'manifest' | 'wrong' | 'none' | { username: string; password: string };

/** A request from the simulated add-on manager to the provider's base_url. */
export interface ProviderRequest {
  operation: ProviderCall['operation'];
  addonId: string | null;
  method: string;
  /** Appended to the manifest base_url (`/<uuid>`); empty for provision. */
  path?: string;
  /** Sent as JSON. */
  body?: unknown;
  /** Sent verbatim instead of `body` (for malformed-body tests). */
  rawBody?: string;
  auth?: ProviderAuth;
  /** Extra or overriding headers. */
  headers?: Record<string, string>;
}

/** A provider call and the violations it caused. */
export interface ProviderExchange {
  call: ProviderCall;
  violations: Violation[];
}

/** The Accept header Heroku sends on add-on partner API calls (v3). */
export const ADDONS_ACCEPT = 'application/vnd.heroku-addons+json; version=3';

/**
 * Sends one request the way Heroku's add-on manager does: Basic auth, v3 Accept header, JSON body,
 * a hard timeout (25 s by default). Every answer must be JSON (an empty 204 is tolerated); anything
 * else, a timeout or a refused connection is recorded as a violation.
 */
export async function callProvider(ctx: SimContext, req: ProviderRequest): Promise<ProviderExchange> {
  const url = ctx.options.addon.baseUrl.replace(/\/+$/, '') + (req.path ?? '');
  const headers: Record<string, string> = { Accept: ADDONS_ACCEPT, 'User-Agent': 'heroku-simulator (add-on manager)' };
  const authorization = basicAuth(ctx, req.auth ?? 'manifest');
  if (authorization) headers.Authorization = authorization;
  const requestBody = req.rawBody ?? (req.body === undefined ? null : JSON.stringify(req.body));
  if (requestBody !== null) headers['Content-Type'] = 'application/json';
  Object.assign(headers, req.headers ?? {});

  const at = ctx.now();
  const started = performance.now();
  const call: ProviderCall = {
    seq: 0,
    at,
    operation: req.operation,
    addonId: req.addonId,
    method: req.method,
    url,
    requestHeaders: headers,
    requestBody,
    status: null,
    responseHeaders: {},
    responseText: '',
    responseBody: undefined,
    durationMs: 0,
    error: null,
    errorMessage: null,
  };
  try {
    const res = await fetch(url, {
      method: req.method,
      headers,
      body: requestBody,
      redirect: 'manual',
      signal: AbortSignal.timeout(ctx.options.requestTimeoutMs),
    });
    call.status = res.status;
    call.responseHeaders = Object.fromEntries(res.headers.entries());
    call.responseText = await res.text();
  } catch (err) {
    const timedOut = err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError');
    call.error = timedOut ? 'timeout' : 'network';
    call.errorMessage = describe(err);
  }
  call.durationMs = Math.round(performance.now() - started);
  call.seq = ctx.log.nextSeq();
  ctx.log.providerCalls.push(call);
  return { call, violations: checkResponse(ctx, call) };
}

function checkResponse(ctx: SimContext, call: ProviderCall): Violation[] {
  const violation = (kind: Violation['kind'], message: string) =>
    ctx.log.violation(ctx.now(), kind, message, call.addonId, call.seq);
  const what = `${call.method} ${call.url}`;
  if (call.error === 'timeout')
    return [violation('timeout', `${what} did not answer within ${ctx.options.requestTimeoutMs} ms`)];
  if (call.error === 'network') return [violation('connection-failed', `${what} failed: ${call.errorMessage}`)];
  if (call.responseText === '' && (call.status === 204 || call.status === 205)) return [];
  try {
    call.responseBody = JSON.parse(call.responseText);
    return [];
  } catch {
    const excerpt = call.responseText.length > 120 ? call.responseText.slice(0, 120) + '…' : call.responseText;
    return [
      violation(
        'non-json-response',
        `${what} answered ${call.status} with a body that is not JSON: ${JSON.stringify(excerpt)}`,
      ),
    ];
  }
}

function basicAuth(ctx: SimContext, auth: ProviderAuth): string | null {
  if (auth === 'none') return null;
  const [user, pass] =
    auth === 'manifest'
      ? [ctx.options.addon.id, ctx.options.addon.password]
      : auth === 'wrong'
        ? ['wrong', 'secret']
        : [auth.username, auth.password];
  return 'Basic ' + Buffer.from(`${user}:${pass}`).toString('base64');
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = (err as { cause?: unknown }).cause;
  return cause instanceof Error ? `${err.message} (${cause.message})` : err.message;
}
