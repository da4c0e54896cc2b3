import type { PgBoss } from 'pg-boss';
import { QUEUES, deadLetterName } from './queues.ts';

/**
 * Deletes the job rows (and dead letters) that name a purged resource or one of its backups. pg-boss
 * would keep them for its retention period (days), each payload naming the resource; after a purge
 * nothing of it should outlive the tombstone. Jobs still running are deleted too (a notification being
 * sent, a re-check reading an archive): pg-boss settles a job only while its row says active, so the
 * handler's end changes nothing, and a job that failed cannot come back as a retry; what it was doing
 * finds the resource gone. Only the purge's own queue keeps its running jobs: the purge itself is one
 * of them, and it names only the resource id the tombstone keeps anyway.
 */
export async function forgetResourceJobs(boss: PgBoss, resourceId: string, backupIds: string[]): Promise<number> {
  const searches: Array<{ name: string; data: object }> = [];
  for (const queue of Object.values(QUEUES)) {
    const names = [queue.name, deadLetterName(queue.name)];
    const shape = queue.payload.shape as Record<string, unknown>;
    for (const name of names) {
      if ('resourceId' in shape) searches.push({ name, data: { resourceId } });
      if ('backupId' in shape) for (const backupId of backupIds) searches.push({ name, data: { backupId } });
    }
  }
  let forgotten = 0;
  for (const { name, data } of searches) {
    const own = name === QUEUES.purgeResource.name;
    const forgettable = (await boss.findJobs(name, { data })).filter((job) => !own || job.state !== 'active');
    if (forgettable.length === 0) continue;
    await boss.deleteJob(
      name,
      forgettable.map((job) => job.id),
    );
    forgotten += forgettable.length;
  }
  return forgotten;
}
