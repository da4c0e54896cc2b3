import { migrate } from '../db/migrate.ts';
import { createBoss } from '../queue/boss.ts';
import { ensureQueues } from '../queue/queues.ts';

/** Everything the release phase does: our migrations, pg-boss's schema, then our queues. Safe to run twice. */
export async function migrateEverything(connectionString: string): Promise<string[]> {
  const applied = await migrate(connectionString);
  const boss = createBoss(connectionString, 'migrate');
  boss.on('error', () => {});
  await boss.start();
  try {
    await ensureQueues(boss);
  } finally {
    await boss.stop({ graceful: false, close: true });
  }
  return applied;
}
