import type pg from 'pg';
import type { HostPolicy } from '../../net/host-guard.ts';
import { isBackupFailure } from '../../shared/backup-failure.ts';
import { redact } from '../../shared/redact.ts';
import { canceled, dumpFailed } from '../dump-failures.ts';
import type { BackupSource } from '../source.ts';
import { connectSource } from '../source-client.ts';
import { guardConnection } from '../source-guard.ts';
import { startDumpSession } from './dump-session.ts';
import type { ShardPlan } from './types.ts';

/**
 * One connection to a static source in pg_dump's session state, for several pieces of one capture in
 * turn. Connecting (TCP, TLS, SCRAM) and setting the session up cost some 15 ms a piece, which for the
 * hundreds of small tables of a typical database was most of their time. A piece that fails on a
 * session, or is stopped, closes it: a COPY cut short leaves the connection in no state to reuse.
 */
export interface PieceSession {
  readonly client: pg.Client;
  /** What must never reach a message: the connection's password. */
  readonly secrets: readonly string[];
  /** True once closed (by its owner, or by a piece that failed on it): open another to go on. */
  readonly closed: boolean;
  /** Pieces started on it so far. */
  pieces: number;
  close(): Promise<void>;
}

export interface OpenPieceSessionOptions {
  source: BackupSource;
  plan: Pick<ShardPlan, 'encoding' | 'serverMajor'>;
  hosts?: HostPolicy;
  signal?: AbortSignal;
}

/**
 * Connects as pg_dump would (the source resolved, its host checked, the checked addresses pinned, TLS
 * naming the host) and sets pg_dump's session up (dump-session.ts). Rejects, leaving nothing open, if
 * any step fails (as a retryable dump failure when the setup did) or the signal fires.
 */
export async function openPieceSession(options: OpenPieceSessionOptions): Promise<PieceSession> {
  const { signal } = options;
  if (signal?.aborted) throw canceled();
  const resolved = await options.source.resolve(signal);
  const connection = await guardConnection(resolved.connection, options.hosts);
  if (signal?.aborted) throw canceled();
  const secrets = [connection.password.reveal()];
  const client = await connectSource(connection, { timeoutMs: 10_000, applicationName: 'big-backup piece' });
  let closed = false;
  const session: PieceSession = {
    client,
    secrets,
    pieces: 0,
    get closed() {
      return closed;
    },
    async close() {
      if (closed) return;
      closed = true;
      await client.end().catch(() => {});
    },
  };
  // The server going away ends the session as surely as closing it.
  client.once('end', () => void session.close());
  try {
    await startDumpSession(client, { encoding: options.plan.encoding, serverMajor: options.plan.serverMajor });
  } catch (error) {
    await session.close();
    if (signal?.aborted) throw canceled();
    if (isBackupFailure(error)) throw error;
    // A connection reset or a server restart while setting up: worth another try, as a piece would be.
    throw dumpFailed(`setting up the source session failed: ${redact((error as Error).message, secrets)}`, {
      retryable: true,
      cause: error,
    });
  }
  if (signal?.aborted) {
    await session.close();
    throw canceled();
  }
  return session;
}

/**
 * Before a piece on a session that already dumped one: ends that transaction and opens a new one
 * (one round trip). The locks a COPY takes last until its transaction ends; one transaction for all
 * of a lane's pieces would hold one on every table it dumped, and a database of thousands of tables
 * would run out of lock space. The source cannot change, so nothing is lost between snapshots.
 */
export async function renewPieceTransaction(session: PieceSession): Promise<void> {
  await session.client.query('COMMIT; BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY');
}
