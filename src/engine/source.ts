import { invalidSource } from './dump-failures.ts';
import { Secret } from '../shared/redact.ts';

/** libpq's sslmode values; unset means libpq's own default (`prefer`). */
export type SslMode = 'disable' | 'allow' | 'prefer' | 'require' | 'verify-ca' | 'verify-full';

const SSL_MODES: readonly SslMode[] = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'];

/** Where one run connects. The password is a `Secret`, so logging this object leaks nothing. */
export interface ConnectionParams {
  host: string;
  port: number;
  database: string;
  user: string;
  password: Secret;
  sslmode?: SslMode;
  /**
   * The addresses `host` resolved to when the host policy checked it (`guardConnection`), in the order
   * to try them. pg_dump and the probe connect to these (libpq's `hostaddr`) and use `host` only for
   * TLS (SNI, certificate name) and the password file, so a second resolution cannot lead elsewhere.
   */
  addresses?: readonly string[];
}

/** A source resolved for one run. */
export interface ResolvedSource {
  connection: ConnectionParams;
  /** Names the server and database, never the password: safe for logs and the backup row. */
  description: string;
}

/**
 * "Where do I connect for this run." A direct source is a URL given by the customer; a Heroku fork
 * source (a later issue) creates the fork in `resolve`, so resolution can be slow and can be canceled.
 */
export interface BackupSource {
  readonly kind: string;
  resolve(signal?: AbortSignal): Promise<ResolvedSource>;
}

/**
 * A source that is just a database URL (`postgres://user:password@host:port/db?sslmode=require`), as the
 * customer gave it: its sslmode is theirs to choose (unset is libpq's `prefer`).
 */
export function directSource(databaseUrl: string): BackupSource {
  return {
    kind: 'direct',
    async resolve() {
      const connection = parseDatabaseUrl(databaseUrl);
      return { connection, description: describeConnection(connection) };
    },
  };
}

/**
 * A URL Heroku handed us (an attachment's config var, a fork's URL). Heroku Postgres always speaks TLS,
 * so anything less than `require` (no sslmode, `disable`, `allow`, `prefer`) becomes `require`: a
 * connection that could fall back to plain text could be downgraded by anyone on the path.
 */
export function herokuSource(databaseUrl: string): BackupSource {
  return {
    kind: 'heroku',
    async resolve() {
      const connection = requireTls(parseDatabaseUrl(databaseUrl));
      return { connection, description: describeConnection(connection) };
    },
  };
}

/** The connection with at least `sslmode=require`; `verify-ca` and `verify-full` stay as they are. */
export function requireTls(connection: ConnectionParams): ConnectionParams {
  const mode = connection.sslmode;
  return mode === 'require' || mode === 'verify-ca' || mode === 'verify-full'
    ? connection
    : { ...connection, sslmode: 'require' };
}

/** Parses a postgres URL into connection parameters; errors never quote the URL. */
export function parseDatabaseUrl(databaseUrl: string): ConnectionParams {
  let url: URL;
  try {
    url = new URL(databaseUrl);
  } catch {
    throw invalidSource('it is not a URL');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw invalidSource('the scheme must be postgres:// or postgresql://');
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw invalidSource('it names no host');
  const user = decode(url.username, 'user name');
  if (!user) throw invalidSource('it names no user');
  const database = decode(url.pathname.replace(/^\//, ''), 'database name') || user;
  const port = url.port ? Number(url.port) : 5432;
  const password = decode(url.password, 'password');
  if (/[\r\n]/.test(password))
    throw invalidSource('the password holds a line break, which a password file cannot carry');
  if (/^(\/|%2f)/i.test(host))
    throw invalidSource('a unix-socket host is not supported; give a TCP host name or address');
  const sslmode = sslModeOf(url.searchParams);
  return { host, port, database, user, password: new Secret(password), ...(sslmode ? { sslmode } : {}) };
}

// Query parameters that change nothing pg_dump must honour: big-backup sets its own.
const IGNORED_PARAMETERS = new Set(['application_name', 'connect_timeout']);

/**
 * The TLS mode a URL asks for. `ssl=true` (node-postgres and JDBC style) means `require`. Any other
 * parameter is refused rather than dropped: pg_dump would otherwise connect with less than the URL
 * asked for (a `channel_binding` or `sslrootcert` lost), or somewhere else (`host`, `port`, `options`).
 */
function sslModeOf(params: URLSearchParams): SslMode | undefined {
  for (const name of new Set(params.keys())) {
    if (name !== 'sslmode' && name !== 'ssl' && !IGNORED_PARAMETERS.has(name)) {
      throw invalidSource(
        `big-backup cannot pass the connection parameter "${name}" on to pg_dump; remove it (sslmode is supported)`,
      );
    }
  }
  const sslmode = params.get('sslmode') ?? undefined;
  if (sslmode !== undefined && !SSL_MODES.includes(sslmode as SslMode))
    throw invalidSource(`sslmode must be one of ${SSL_MODES.join(', ')}`);
  const ssl = params.get('ssl');
  if (ssl !== null && !['true', '1'].includes(ssl))
    throw invalidSource('ssl must be true (or leave it out and give sslmode)');
  return (sslmode as SslMode | undefined) ?? (ssl !== null ? 'require' : undefined);
}

/** `postgres://user@host:port/database`, for logs. */
export function describeConnection(connection: ConnectionParams): string {
  const host = connection.host.includes(':') ? `[${connection.host}]` : connection.host;
  return `postgres://${encodeURIComponent(connection.user)}@${host}:${connection.port}/${encodeURIComponent(connection.database)}`;
}

function decode(value: string, what: string): string {
  try {
    return decodeURIComponent(value);
  } catch {
    throw invalidSource(`the ${what} is not valid percent-encoding`);
  }
}
