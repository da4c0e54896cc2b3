import { isIP } from 'node:net';
import type { ConnectionOptions } from 'node:tls';
import pg from 'pg';
import { HostLookupError } from '../net/host-guard.ts';
import { redact } from '../shared/redact.ts';
import { isBackupFailure } from '../shared/backup-failure.ts';
import { connectionFailed } from './dump-failures.ts';
import { describeConnection, type ConnectionParams } from './source.ts';

/** Options of `connectSource`. */
export interface SourceClientOptions {
  timeoutMs: number;
  applicationName: string;
  statementTimeoutMs?: number;
  /** Client-side limit on each query, for a server that accepts the connection and then says nothing. */
  queryTimeoutMs?: number;
}

// SQLSTATEs after which a retry with the same credentials cannot succeed.
const PERMANENT_SQLSTATES = new Set(['28P01', '28000', '3D000', '42501']);

/**
 * Opens a node-postgres client to a source the way libpq would for pg_dump: the same sslmode rules
 * (prefer and allow fall back only when the server refuses the other transport), the checked
 * addresses in turn (`hostaddr`) with the host name kept for TLS, never a connection string (so no
 * parameter the parser refused can come back). Fails as `connection_failed` with the driver's error
 * as cause; `connectProblem` says what went wrong without the driver's text.
 */
export async function connectSource(connection: ConnectionParams, options: SourceClientOptions): Promise<pg.Client> {
  const targets = connection.addresses?.length ? connection.addresses : [connection.host];
  let lastError: unknown;
  for (const address of targets) {
    for (const ssl of sslAttempts(connection)) {
      const client = new pg.Client({
        host: address,
        port: connection.port,
        database: connection.database,
        user: connection.user,
        password: connection.password.reveal(),
        ssl: ssl === false ? false : withServerName(ssl, connection.host),
        connectionTimeoutMillis: options.timeoutMs,
        ...(options.statementTimeoutMs ? { statement_timeout: options.statementTimeoutMs } : {}),
        ...(options.queryTimeoutMs ? { query_timeout: options.queryTimeoutMs } : {}),
        application_name: options.applicationName,
      });
      // A dropped connection rejects the statement in flight; unheard, its 'error' event would crash us.
      client.on('error', () => {});
      try {
        await client.connect();
        return client;
      } catch (error) {
        lastError = error;
        await client.end().catch(() => {});
        // libpq's prefer/allow fall back to the other transport only when the server refuses it.
        if (!/does not support SSL|SSL.*(off|required)|no pg_hba\.conf entry/i.test((error as Error).message)) break;
      }
    }
    // As libpq: the next address only when this one could not be reached; a server's refusal is final.
    if (sqlState(lastError)) break;
  }
  const code = sqlState(lastError) ?? '';
  const message = redact((lastError as Error).message, [connection.password.reveal()]);
  // A server that cannot speak TLS when the sslmode requires it will not learn to before a retry.
  const permanent = PERMANENT_SQLSTATES.has(code) || /does not support SSL/i.test(message);
  throw connectionFailed(
    `could not connect to ${describeConnection(connection)}: ${message}`,
    !permanent,
    undefined,
    lastError,
  );
}

/**
 * What went wrong connecting, in words that name no address, port or driver text: safe to show to
 * whoever gave the URL, and still useful to them.
 */
export function connectProblem(error: unknown): string {
  const cause: unknown = isBackupFailure(error) ? (error.cause ?? error) : error;
  if (cause instanceof HostLookupError) return cause.message;
  const { code = '', message = '' } = (cause ?? {}) as { code?: string; message?: string };
  if (code === 'ECONNREFUSED') return 'connection refused';
  if (code === 'ETIMEDOUT' || /timeout|timed out/i.test(message)) return 'timed out';
  if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return 'the host is unreachable';
  if (code === 'ENOTFOUND') return 'the host name does not resolve';
  if (code === '28P01' || code === '28000') return 'authentication failed (check the user name and password)';
  if (code === '3D000') return 'the database does not exist';
  if (code === '42501') return 'permission denied';
  if (code === '53300') return 'the server has too many connections';
  if (code === '57P03') return 'the server is starting up or shutting down';
  if (/does not support SSL/i.test(message)) return 'the server does not support TLS, which this connection requires';
  if (/CERT|certificate|self[- ]signed|altname/i.test(code + ' ' + message))
    return "the server's TLS certificate could not be verified";
  if (code === 'ECONNRESET' || /terminated|closed/i.test(message)) return 'the server closed the connection';
  return 'the connection failed';
}

/** The server's SQLSTATE when the server answered with an error; undefined for network and TLS failures. */
function sqlState(error: unknown): string | undefined {
  return error instanceof pg.DatabaseError ? error.code : undefined;
}

function sslAttempts(connection: ConnectionParams): Array<false | ConnectionOptions> {
  switch (connection.sslmode ?? 'prefer') {
    case 'disable':
      return [false];
    case 'allow':
      return [false, { rejectUnauthorized: false }];
    case 'prefer':
      return [{ rejectUnauthorized: false }, false];
    case 'require':
      return [{ rejectUnauthorized: false }];
    case 'verify-ca':
      return [{ rejectUnauthorized: true, checkServerIdentity: () => undefined }];
    case 'verify-full':
      return [{ rejectUnauthorized: true }];
  }
}

/** SNI and the certificate check name the host, not the address connected to (unless the host is an address). */
function withServerName<T extends object>(ssl: T, host: string): T & { servername?: string } {
  return isIP(host) ? ssl : { ...ssl, servername: host };
}
