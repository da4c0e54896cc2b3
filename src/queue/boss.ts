import { PgBoss } from 'pg-boss';

/** Which subsystems a process runs: the web process only sends; the worker also supervises and schedules. */
export type BossRole = 'web' | 'worker' | 'migrate';

/** pg-boss keeps its tables in their own schema beside ours. */
export const BOSS_SCHEMA = 'pgboss';

/**
 * Builds a pg-boss instance for one process role. No role migrates at start-up: the release phase
 * (or the embedded starter) installs the schema first, so web dynos never race to alter tables.
 */
export function createBoss(connectionString: string, role: BossRole): PgBoss {
  const worker = role === 'worker';
  return new PgBoss({
    connectionString,
    schema: BOSS_SCHEMA,
    migrate: role === 'migrate',
    supervise: worker,
    schedule: worker,
    max: worker ? 10 : 4,
    instanceName: role,
    openTelemetry: { enabled: false },
  });
}
