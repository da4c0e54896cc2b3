import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startStack, apiCall } from '../../support/stack.ts';
import { jobDeps, pendingBackupRow, seededSourceServer, signedInResource } from '../../support/factories.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { runBackup } from '../../../src/jobs/run-backup.ts';
import { QUEUES } from '../../../src/queue/queues.ts';
import type { ObjectStore } from '../../../src/storage/object-store.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { INTERNAL_FAILURE_MESSAGE } from '../../../src/shared/backup-failure.ts';

// What a customer sees of a failure no layer described (a bug): a plain message, never its detail.
const stack = await startStack();
const { app } = stack;
const db = app.runtime.pool;
const { sourceUrl } = await seededSourceServer();
const storeRoot = mkdtempSync(path.join(os.tmpdir(), 'failure-display-'));
after(() => rmSync(storeRoot, { recursive: true, force: true }));
const store = await openObjectStore(`file://${storeRoot}`, {});
after(() => store.close());

/** The store of the app, except that every upload fails with an error no layer wrote, with a cause. */
function storeWithBrokenUpload(store: ObjectStore): ObjectStore {
  return new Proxy(store, {
    get(target, property) {
      if (property === 'upload') {
        return async () => {
          throw new TypeError('upload-internal-detail', { cause: new Error('upload-cause-detail') });
        };
      }
      const value = Reflect.get(target, property, target) as unknown;
      return typeof value === 'function' ? value.bind(target) : value;
    },
  });
}

test('an unexpected error fails the attempt as internal: page and API show a plain message, the log keeps stack and cause', async () => {
  const { uuid, browser } = await signedInResource(stack);
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const backup = await pendingBackupRow(db, uuid);
  const deps = jobDeps(app, {
    store: storeWithBrokenUpload(store),
    backup: { stallTimeoutMs: 60_000, cancelPollMs: 250 },
  });
  // The last retry, so the failure is final; an internal failure is retryable, so the job rethrows it.
  const job = {
    id: 'job',
    signal: new AbortController().signal,
    retryCount: QUEUES.backup.options.retryLimit,
    expireInSeconds: 3600,
  };
  await assert.rejects(runBackup(deps, { backupId: backup.id }, job), /upload-internal-detail/);

  const failed = (await findBackup(db, backup.id))!;
  assert.equal(failed.state, 'failed');
  assert.equal(failed.failureKind, 'internal');
  assert.equal(failed.failureReason, INTERNAL_FAILURE_MESSAGE);

  const leaks = /upload-internal-detail|upload-cause-detail|TypeError|\n\s+at /;
  const page = await (await browser.request('GET', `/backups/${backup.id}`)).text();
  assert.ok(page.includes(INTERNAL_FAILURE_MESSAGE), 'the page says the attempt failed');
  assert.doesNotMatch(page, leaks);
  const shown = await apiCall(app.url, 'GET', `/backups/${backup.id}`, { browser });
  assert.equal(shown.status, 200);
  const json = await shown.text();
  assert.deepEqual((JSON.parse(json) as { failure: unknown }).failure, {
    kind: 'internal',
    reason: INTERNAL_FAILURE_MESSAGE,
  });
  assert.doesNotMatch(json, leaks);

  // The operator's log has all of it: pino's error serializer keeps the type, the stack and the cause.
  const logged = app.logs.lines
    .map(
      (line) =>
        JSON.parse(line) as {
          msg: string;
          backupId?: string;
          err?: { type: string; message: string; stack: string; kind: string };
        },
    )
    .find((entry) => entry.msg === 'backup attempt failed' && entry.backupId === backup.id);
  assert.ok(logged?.err, 'the failure is logged with its error');
  assert.equal(logged.err.type, 'BackupFailure');
  assert.equal(logged.err.kind, 'internal');
  assert.match(logged.err.stack, /TypeError: upload-internal-detail\n\s+at /);
  assert.match(logged.err.stack, /caused by: Error: upload-cause-detail/);
});
