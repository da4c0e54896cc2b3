import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup, insertBackup } from '../../../src/backups/backups.repo.ts';
import { runBackup } from '../../../src/jobs/run-backup.ts';
import type { JobDeps } from '../../../src/jobs/deps.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';

// A source saved before its name was pointed at our network (or before the check existed) is refused at
// run time too: the run resolves the host itself and never reaches a loopback server.
const { app, sim } = await startStack();
const db = app.runtime.pool;
const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await seedSourceDatabase(server, 'guarded');
const storeRoot = mkdtempSync(path.join(os.tmpdir(), 'source-not-allowed-'));
after(() => rmSync(storeRoot, { recursive: true, force: true }));
const store = await openObjectStore(`file://${storeRoot}`, {});
after(() => store.close());

async function backupOf(url: string) {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await eventually(
    async () => (await db.query('select app_name from resources where id = $1', [uuid])).rows[0]?.app_name,
    { what: 'app name' },
  );
  await setDirectSource(db, app.runtime.secrets, uuid, url, 'admin@example.com');
  return (await insertBackup(db, {
    id: randomUUID(),
    resourceId: uuid,
    trigger: 'manual',
    format: 'default',
    requestedBy: 'x',
  }))!;
}

function deps(allowPrivate: boolean | undefined): JobDeps {
  return {
    pool: db,
    boss: app.boss,
    logger: app.runtime.logger,
    secrets: app.runtime.secrets,
    store,
    partner: app.runtime.partner,
    backup: { stallTimeoutMs: 60_000, cancelPollMs: 250 },
    ...(allowPrivate === undefined ? {} : { hosts: { allowPrivate } }),
  };
}

const job = () => ({ id: 'job', signal: new AbortController().signal, retryCount: 0, expireInSeconds: 3600 });

test('a run refuses a loopback source as source_not_allowed, at once and for good, naming no address', async () => {
  for (const host of ['127.0.0.1', '2130706433', 'localhost']) {
    const url = new URL(sourceUrl);
    const backup = await backupOf(sourceUrl.replace(`@${url.hostname}:`, `@${host}:`));
    await runBackup(deps(undefined), { backupId: backup.id }, job());
    const failed = (await findBackup(db, backup.id))!;
    assert.equal(failed.state, 'failed', host);
    assert.equal(failed.failureKind, 'source_not_allowed', host);
    assert.doesNotMatch(failed.failureReason ?? '', /127\.0\.0\.1|localhost|2130706433/, host);
  }
});

test('with private hosts allowed, the same source is backed up', async () => {
  const backup = await backupOf(sourceUrl);
  await runBackup(deps(true), { backupId: backup.id }, job());
  const done = (await findBackup(db, backup.id))!;
  assert.equal(done.state, 'completed', done.failureReason ?? '');
});
