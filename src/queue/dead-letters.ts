import type { PgBoss } from 'pg-boss';
import { QUEUES, deadLetterName } from './queues.ts';

/** A backup job pg-boss gave up on: it ran out of retries and was moved to the dead-letter queue. */
export interface DeadLetter {
  jobId: string;
  at: Date;
}

/** The dead-letter record of a backup's job, if pg-boss gave up on it. */
export async function findBackupDeadLetter(boss: PgBoss, backupId: string): Promise<DeadLetter | null> {
  const [job] = await boss.findJobs(deadLetterName(QUEUES.backup.name), { data: { backupId } });
  return job ? { jobId: job.id, at: job.createdOn } : null;
}
