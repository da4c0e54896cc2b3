import test from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { seededSourceServer } from '../../support/factories.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { startWorker } from '../../../src/processes/worker-process.ts';

// The worker process's own stop(), as SIGTERM runs it on a deploy or the daily restart.
const { app, sim } = await startStack({ worker: false });
const { server, sourceUrl } = await seededSourceServer();
const db = app.runtime.pool;

test('a worker told to stop ends a running backup at once as interrupted, for a retry, well inside 30 s', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const worker = await startWorker(app.runtime, { pollingIntervalSeconds: 0.5, cancelPollMs: 250 });
  // A lock pg_dump waits on keeps the dump in progress: left alone it would outlast any grace period.
  const locker = new pg.Client(server.url('shop'));
  await locker.connect();
  await locker.query('begin');
  await locker.query('lock table public.customers in access exclusive mode');
  try {
    const requested = (await requestBackup({ pool: db, boss: app.boss }, uuid, {
      trigger: 'manual',
      requestedBy: 'admin@example.com',
    }))!;
    await eventually(async () => (await findBackup(db, requested.id))?.phase === 'dumping', {
      timeoutMs: 30_000,
      what: 'dumping',
    });
    const started = Date.now();
    await worker.stop();
    const took = Date.now() - started;
    assert.ok(took < 10_000, `stopped in ${took} ms`);
    const backup = (await findBackup(db, requested.id))!;
    assert.equal(backup.failureKind, 'interrupted', `${backup.state}: ${backup.failureReason}`);
    assert.notEqual(backup.state, 'failed', 'not final: a retry will run it again');
    const job = await db.query(`select state from pgboss.job where name = 'backup' and data->>'backupId' = $1`, [
      requested.id,
    ]);
    assert.equal(job.rows[0]?.state, 'retry', 'released to pg-boss for a retry');
  } finally {
    await locker.query('rollback');
    await locker.end();
  }
});

test('a starting worker logs the pg_dumps it found and the supported server majors none can back up', async () => {
  const before = app.logs.lines.length;
  const worker = await startWorker(app.runtime, { pollingIntervalSeconds: 0.5 });
  try {
    const lines = app.logs.lines
      .slice(before)
      .map((line) => JSON.parse(line) as { msg: string; pgDump?: { path: string }[]; uncovered?: number[] });
    const found = lines.find((line) => line.msg === 'pg_dump binaries found');
    assert.ok(
      found?.pgDump?.some((b) => b.path === '/usr/lib/postgresql/15/bin/pg_dump'),
      JSON.stringify(found),
    );
    const warning = lines.find((line) => line.uncovered !== undefined);
    // This machine has pg_dump 15 only: servers 16 and later cannot be backed up here.
    assert.deepEqual(warning?.uncovered, [16, 17, 18]);
    assert.match(warning?.msg ?? '', /install postgresql-client-18 \(the Aptfile on Heroku\) or set PG_BIN_DIR/);
  } finally {
    await worker.stop();
  }
});
