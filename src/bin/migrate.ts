// The release phase (Procfile `release`): applies our migrations and pg-boss's, then exits.
import { loadConfig } from '../config.ts';
import { migrateEverything } from '../processes/release.ts';
import { exitOnBootFailure } from '../processes/shutdown.ts';

try {
  const config = loadConfig(process.env);
  const applied = await migrateEverything(config.DATABASE_URL);
  process.stdout.write(applied.length ? `applied migrations: ${applied.join(', ')}\n` : 'database is up to date\n');
} catch (error) {
  exitOnBootFailure(error);
}
