import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';

/** What a receiver answered. */
export interface PostAnswer {
  status: number;
}

/** The request could not be made or was not answered in time (no HTTP status). */
export class PostError extends Error {
  override readonly name = 'PostError';
}

/** Bytes of the answer read (and thrown away); a receiver cannot make us hold more. */
const MAX_ANSWER_BYTES = 64 * 1024;

/**
 * POSTs `body` once and reports the status. Redirects are not followed (a 3xx is just the answer).
 * With `address`, the connection goes to that address whatever the host name resolves to now: the
 * caller checked it (host-guard.ts), and a second resolution could lead elsewhere (DNS rebinding).
 * TLS still verifies the certificate against the host name in the URL.
 */
export async function postOnce(
  url: URL,
  request: { headers: Record<string, string>; body: string; timeoutMs: number; address?: string },
): Promise<PostAnswer> {
  const transport = url.protocol === 'https:' ? https : http;
  const pinned = request.address;
  const lookup: LookupFunction | undefined = pinned
    ? (_host, options, callback) => {
        const family = pinned.includes(':') ? 6 : 4;
        if ((options as { all?: boolean }).all) callback(null, [{ address: pinned, family }]);
        else callback(null, pinned, family);
      }
    : undefined;
  const body = Buffer.from(request.body, 'utf8');
  return new Promise<PostAnswer>((resolve, reject) => {
    const req = transport.request(
      url,
      {
        method: 'POST',
        headers: { ...request.headers, 'Content-Length': String(body.length) },
        timeout: request.timeoutMs,
        ...(lookup ? { lookup } : {}),
        agent: false,
      },
      (res) => {
        let read = 0;
        res.on('data', (chunk: Buffer) => {
          read += chunk.length;
          if (read > MAX_ANSWER_BYTES) res.destroy();
        });
        res.on('close', () => resolve({ status: res.statusCode ?? 0 }));
        res.on('error', () => resolve({ status: res.statusCode ?? 0 }));
      },
    );
    req.on('timeout', () => req.destroy(new PostError(`no answer within ${Math.round(request.timeoutMs / 1000)}s`)));
    req.on('error', (error) =>
      reject(error instanceof PostError ? error : new PostError(`could not reach the receiver: ${describe(error)}`)),
    );
    req.end(body);
  });
}

/** A connection error in words that name no address. */
function describe(error: Error): string {
  const code = (error as { code?: string }).code;
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ECONNRESET') return 'connection reset';
  if (code === 'ETIMEDOUT') return 'connection timed out';
  if (code?.startsWith('ERR_TLS') || code?.includes('CERT')) return `TLS failed (${code})`;
  return code ?? error.message;
}
