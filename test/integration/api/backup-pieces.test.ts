import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, apiCall } from '../../support/stack.ts';
import {
  pendingBackupRow,
  provisionedResource,
  shardedBackupInFlight,
  signedInBrowser,
} from '../../support/factories.ts';
import { beginAttempt } from '../../../src/backups/backups.repo.ts';
import { recordSingleCapture } from '../../../src/backups/sharded-backups.repo.ts';
import { isSourceDeclaredStatic, setDirectSource } from '../../../src/backups/sources.repo.ts';
import { testServerUrl } from '../../support/database.ts';

// `/api/v1/backups/{id}` says how a backup is captured and, for one captured in pieces, counts them and
// lists each compactly.
const stack = await startStack({ worker: false });
const db = stack.app.runtime.pool;

test('the API carries a sharded backup’s mode, reason and pieces', async () => {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  const browser = await signedInBrowser(stack, uuid);
  const backup = await shardedBackupInFlight(db, uuid);
  const response = await apiCall(stack.app.url, 'GET', `/backups/${backup.id}`, { browser });
  assert.equal(response.status, 200);
  const body = (await response.json()) as Record<string, any>;
  assert.equal(body.mode, 'sharded');
  assert.equal(body.modeReason, 'a fork cannot change while it is dumped');
  const { items, ...counts } = body.pieces;
  assert.deepEqual(counts, { total: 4, done: 2, running: 1, waiting: 1, failed: 0, percent: 50, etaSeconds: 4 });
  assert.deepEqual(items[0], {
    no: 0,
    state: 'done',
    table: 'public.big',
    blocks: [null, 1000],
    bytes: 4_000_000,
    rate: 2_000_000,
    worker: 'worker.1:101',
    attempts: 1,
  });
  assert.deepEqual(
    items.map((p: { state: string; worker: string | null }) => [p.state, p.worker]),
    [
      ['done', 'worker.1:101'],
      ['done', 'worker.1:101'],
      ['running', 'worker.2:202'],
      ['waiting', null],
    ],
  );
});

test('a backup captured as one stream says so, with no pieces', async () => {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  const browser = await signedInBrowser(stack, uuid);
  const backup = await pendingBackupRow(db, uuid);
  const started = (await beginAttempt(db, backup.id))!;
  assert.ok(await recordSingleCapture(db, backup.id, started.token, 'the fast format is one zstd stream'));
  const response = await apiCall(stack.app.url, 'GET', `/backups/${backup.id}`, { browser });
  const body = (await response.json()) as Record<string, unknown>;
  assert.equal(body.mode, 'single');
  assert.equal(body.modeReason, 'the fast format is one zstd stream');
  assert.equal(body.pieces, null);
});

test('an admin declares a direct source static only by repeating its description, and changing the source takes it back', async () => {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  const browser = await signedInBrowser(stack, uuid);
  const csrf = await browser.csrfToken();
  const put = async (path: string, body: unknown) => {
    const response = await apiCall(stack.app.url, 'PUT', path, { browser, csrf, body });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  };
  const heroku = await put('/source/static', { static: true, confirm: 'x' });
  assert.equal(heroku.status, 422, 'no direct source yet');
  const { description } = await setDirectSource(
    db,
    stack.app.runtime.secrets,
    uuid,
    testServerUrl(),
    'admin@example.com',
  );
  const unconfirmed = await put('/source/static', { static: true });
  assert.equal(unconfirmed.status, 422);
  assert.equal(unconfirmed.body.code, 'confirmation_needed');
  assert.equal(await isSourceDeclaredStatic(db, uuid), false);

  const declared = await put('/source/static', { static: true, confirm: description });
  assert.equal(declared.status, 200);
  assert.deepEqual(declared.body.source, { kind: 'direct', description, static: true });
  assert.equal(await isSourceDeclaredStatic(db, uuid), true);

  await setDirectSource(db, stack.app.runtime.secrets, uuid, testServerUrl(), 'admin@example.com');
  assert.equal(await isSourceDeclaredStatic(db, uuid), false, 'a new URL is not declared static');
});
