import type { JobDeps } from '../deps.ts';
import { planShardedCapture } from '../../engine/index.ts';
import type { Backup } from '../../backups/backup.ts';
import { recordAttemptFacts } from '../../backups/backups.repo.ts';
import { isSourceDeclaredStatic } from '../../backups/sources.repo.ts';
import { recordShardPlan, recordSingleCapture } from '../../backups/sharded-backups.repo.ts';
import type { OpenedSource, SourceSession } from '../../forks/fork-lifecycle.ts';
import type { Plan } from '../../resources/plans.ts';
import { withTransaction } from '../../db/pool.ts';
import { databaseTooLarge } from '../plan-limit-failures.ts';
import { dispatchPieces } from './dispatch-pieces.ts';

/** Split size when the deps name none: 1 GiB, as the default. */
export const DEFAULT_SPLIT_SIZE_BYTES = 1024 ** 3;

/** What the backup job hands this step: its attempt, its opened source and its fenced writes. */
export interface ShardedStart {
  backup: Backup;
  token: string;
  plan: Plan;
  resourceName: string;
  opened: OpenedSource;
  session: SourceSession;
  signal: AbortSignal;
  log: (line: string) => void;
  /** The job's fenced write: throws (stopping the attempt) when a newer attempt owns the backup. */
  fenced: (write: Promise<boolean>) => Promise<void>;
}

/**
 * Decides, once the attempt's source is open and before pg_dump runs, whether this backup is dumped in
 * pieces. A source that cannot change while it is dumped (a fork; a direct source only when an admin
 * declared it static) is planned; when the plan says sharded, the plan and its pieces are recorded
 * (fenced by the attempt's token), the fork is handed over so the job's end does not destroy it, the
 * first pieces are sent, and true is returned: the job is then done, and the pieces, the assembly and
 * the sweeper carry the backup on. Otherwise the mode `single` and why are recorded and false returned:
 * the job runs the one pg_dump stream as before.
 */
export async function startShardedCapture(deps: JobDeps, start: ShardedStart): Promise<boolean> {
  const { backup, token, opened, fenced, log } = start;
  const single = async (reason: string) => {
    await fenced(recordSingleCapture(deps.pool, backup.id, token, reason));
    log(`captured as one pg_dump stream: ${reason}`);
    return false;
  };
  if (opened.mode === 'direct-fallback')
    return single(
      'the source is the production database itself (it could not be forked), which changes while it is dumped',
    );
  if (opened.mode === 'direct' && !(await isSourceDeclaredStatic(deps.pool, backup.resourceId)))
    return single(
      'the source is a database URL that an admin has not declared static, so it may change while it is dumped',
    );

  const { plan: shardPlan, dump } = await planShardedCapture(opened.source, {
    format: backup.format,
    splitSizeBytes: deps.backup.shardSplitSizeBytes ?? DEFAULT_SPLIT_SIZE_BYTES,
    static: true,
    signal: start.signal,
    ...(deps.hosts ? { hosts: deps.hosts } : {}),
    ...(deps.backup.pgBinDir ? { pgBinDir: deps.backup.pgBinDir } : {}),
  });
  log(
    `PostgreSQL ${dump.server.version}; pg_dump ${dump.binaries.version} (${dump.binaries.pgDump}); format ${dump.format.format}`,
  );
  const server = {
    sourceBytes: dump.server.databaseBytes,
    sourceDescription: opened.description,
    serverVersion: dump.server.version,
  };
  // The plan's size limit, before any row is read, as for one stream.
  if (dump.server.databaseBytes > start.plan.maxDatabaseBytes) {
    await fenced(recordAttemptFacts(deps.pool, backup.id, token, server));
    throw databaseTooLarge(start.plan, dump.server.databaseBytes, start.resourceName, deps.plans);
  }
  if (shardPlan.mode !== 'sharded') return single(shardPlan.modeReason);
  if (shardPlan.pieces.length === 0) return single('the database holds no table data to dump in pieces');

  await fenced(
    recordAttemptFacts(deps.pool, backup.id, token, {
      ...server,
      pgDumpVersion: dump.binaries.version,
      dumpCommand: `pg_dump ${dump.format.flags.join(' ')}, in ${shardPlan.pieces.length} pieces`,
      restoreCommand: dump.format.restoreCommand,
    }),
  );
  const startedAt = backup.startedAt ?? new Date();
  const deadlineAt = new Date(startedAt.getTime() + start.plan.shardedBackupHours * 3600_000);
  await fenced(withTransaction(deps.pool, (tx) => recordShardPlan(tx, backup.id, token, shardPlan, deadlineAt)));
  // From here on the fork belongs to the sharded backup: its end (or the fork janitor) destroys it.
  start.session.handOver();
  const tables = new Set(shardPlan.pieces.map((p) => `${p.schema}.${p.table}`)).size;
  log(
    `captured in ${shardPlan.pieces.length} pieces (${tables} tables, split at ${shardPlan.splitSizeBytes} bytes): ${shardPlan.modeReason}; ` +
      `up to ${start.plan.shardConcurrency} at once, until ${deadlineAt.toISOString()}`,
  );
  // The sweeper sends them within a minute should this fail.
  await dispatchPieces(deps, { id: backup.id, resourceId: backup.resourceId, attempt: backup.attempt, token }).catch(
    (err: unknown) =>
      deps.logger.warn({ err, backupId: backup.id }, 'could not send the first pieces; the sweeper will'),
  );
  return true;
}
