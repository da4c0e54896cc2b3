import { migrate } from './migrate.ts';
import { migrateBoss } from '../jobs/boss.ts';

/** Everything the release phase does: our migrations, then pg-boss's schema. Safe to run twice. */
export async function migrateEverything(connectionString: string): Promise<string[]> {
  const applied = await migrate(connectionString);
  await migrateBoss(connectionString);
  return applied;
}
