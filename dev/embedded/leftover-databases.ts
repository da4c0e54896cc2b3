import pg from 'pg';
import { CREATED_DATABASE_NAME } from '../simulator/index.ts';

/**
 * Drops the databases a previous simulator created and could not drop (the process was killed): the
 * simulator keeps its state in memory, so at start every such database on the embedded cluster is an
 * orphan nothing would ever remove. Returns their names.
 */
export async function dropLeftoverSimulatorDatabases(adminUrl: string): Promise<string[]> {
  const admin = new pg.Client(adminUrl);
  await admin.connect();
  try {
    const { rows } = await admin.query<{ datname: string }>('select datname from pg_database');
    const leftovers = rows.map((r) => r.datname).filter((name) => CREATED_DATABASE_NAME.test(name));
    for (const name of leftovers) await admin.query(`drop database if exists "${name}" with (force)`);
    return leftovers;
  } finally {
    await admin.end();
  }
}
