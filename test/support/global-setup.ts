import { mkdtempSync, chmodSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pg from 'pg';
import {
  startLocalCluster,
  hasPostgresBinaries,
  SYSTEM_PG15_BIN,
  embeddedBinDir,
  type LocalCluster,
} from '../../dev/db/local-cluster.ts';
import { migrateEverything } from '../../src/processes/release.ts';
import { checkCheckoutUnchanged, recordCheckout } from './checkout-guard.ts';
import { checkNoFoldersLeft, checkNothingLeftRunning, makeRunTemporaryRoot, markRun } from './leftover-guard.ts';
import { TEMPLATE_DATABASE } from './database.ts';

let cluster: LocalCluster | undefined;
let clusterParent: string | undefined;

/**
 * Starts one throwaway PostgreSQL server for the whole run and migrates a template database once;
 * each test file clones the template (see database.ts), which takes milliseconds. The integration and
 * browser runs use it; the unit run uses unit-setup.ts, which starts nothing. Both check that the run
 * leaves the checkout as it found it (checkout-guard.ts), and the integration and browser runs that no
 * process they started outlives them and no temporary folder they made is left (leftover-guard.ts).
 */
export async function globalSetup(): Promise<void> {
  recordCheckout();
  markRun();
  const binDir = hasPostgresBinaries(SYSTEM_PG15_BIN) ? SYSTEM_PG15_BIN : await embeddedBinDir();
  // The shared server's folder sits beside the run's temporary root, not in it: it outlives every test file.
  const parent = mkdtempSync(path.join(os.tmpdir(), 'bb-test-pg-'));
  clusterParent = parent;
  makeRunTemporaryRoot();
  chmodSync(parent, 0o755); // the server runs as the postgres user when we are root
  const dataDir = path.join(parent, 'data');
  cluster = await startLocalCluster({
    binDir,
    dataDir,
    password: 'test-only-' + Math.random().toString(36).slice(2),
    removeOnStop: true,
  });
  const admin = new pg.Client(cluster.url);
  await admin.connect();
  await admin.query(`create database ${TEMPLATE_DATABASE}`);
  await admin.end();
  await migrateEverything(withDatabase(cluster.url, TEMPLATE_DATABASE));
  process.env.BB_TEST_PG_URL = cluster.url;
  process.env.BB_TEST_PG_BIN = binDir;
}

export async function globalTeardown(): Promise<void> {
  try {
    await cluster?.stop();
    if (clusterParent) rmSync(clusterParent, { recursive: true, force: true });
  } finally {
    checkCheckoutUnchanged();
    await checkNothingLeftRunning();
    checkNoFoldersLeft();
  }
}

function withDatabase(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/' + database;
  return parsed.toString();
}
