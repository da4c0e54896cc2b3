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

/**
 * Puts a backup's job in the dead-letter queue by hand, as pg-boss does when a job runs out of the
 * queue's retries: for a failure whose own, smaller retry budget ran out first (the handler returns
 * then, and pg-boss would record the job as completed and leave no trace of giving up).
 */
export async function deadLetterBackupJob(boss: PgBoss, backupId: string): Promise<void> {
  await boss.send(deadLetterName(QUEUES.backup.name), { backupId });
}
