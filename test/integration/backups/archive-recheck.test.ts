import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { DeleteObjectCommand, HeadObjectCommand } from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { startStack, Browser, apiCall } from '../../support/stack.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { seedSourceDatabase, startSourceServer } from '../../support/seed-source.ts';
import {
  backupIn,
  completedBackup,
  forceCompleted,
  jobDeps,
  pendingBackupRow,
  resourceWithDirectSource,
} from '../../support/factories.ts';
import { findBackup, markNeedsReverification } from '../../../src/backups/backups.repo.ts';
import { listEvents } from '../../../src/backups/backup-events.repo.ts';
import { decideRetention } from '../../../src/backups/retention.ts';
import { listResourceBackups } from '../../../src/backups/backups.repo.ts';
import { recheckDueArchives } from '../../../src/backups/archive-recheck.service.ts';
import { recheckBackup } from '../../../src/jobs/recheck-archives.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { MANIFEST_SUFFIX } from '../../../src/storage/keys.ts';
import type { Backup } from '../../../src/backups/backup.ts';

// Stored archives re-read over time (issue 15, item 3), against the real S3 test server and worker: a
// flipped byte or a vanished object makes the backup corrupt, with everything that follows from that.
const s3 = await startS3Server();
after(() => s3.close());
const storageUrl = s3.url('archives');
const { app, sim } = await startStack({ env: { STORAGE_URL: storageUrl, ...s3.env } });
const db = app.runtime.pool;
const store = await openObjectStore(storageUrl, s3.env);
after(() => store.close());
const deps = jobDeps(app, { store });
const bucket = s3.client();
const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await seedSourceDatabase(server, 'shop');
const DAY = 86_400_000;
const ONE_MANUAL = { manual: 1, hourly: 0, daily: 0, weekly: 0, monthly: 0 };

async function signedIn(uuid: string): Promise<{ browser: Browser; csrf: string }> {
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(uuid, { user: 'admin@example.com' }))).status, 303);
  return { browser, csrf: await browser.csrfToken() };
}

function keepRules(decision: ReturnType<typeof decideRetention>, id: string): string[] | 'deleted' {
  const kept = decision.keep.find((k) => k.id === id);
  return kept ? kept.reasons.map((r) => r.rule) : 'deleted';
}

test('a flipped byte in a stored archive: the re-check finds it, the backup is corrupt, its link answers 410, retention keeps the one before', async () => {
  const uuid = await resourceWithDirectSource({ app, sim }, sourceUrl);
  const older = await completedBackup({ app, sim }, uuid, 'admin@example.com');
  const newer = await completedBackup({ app, sim }, uuid, 'admin@example.com');
  const { browser, csrf } = await signedIn(uuid);
  const created = await apiCall(app.url, 'POST', `/backups/${newer.id}/links`, { browser, csrf, body: {} });
  assert.equal(created.status, 201, await created.clone().text());
  const { url } = (await created.json()) as { url: string };
  assert.equal((await fetch(url, { redirect: 'manual' })).status, 302, 'the link works before the damage');
  // With one manual backup kept, the older one would go: the newer one is the newest verified.
  const before = decideRetention({
    backups: await listResourceBackups(db, uuid),
    retention: ONE_MANUAL,
    timeZone: 'UTC',
    now: new Date(),
  });
  assert.equal(keepRules(before, older.id), 'deleted');

  await s3.flipByte(`archives/${newer.objectKey!}`);
  const asked = await apiCall(app.url, 'POST', `/backups/${newer.id}/recheck`, { browser, csrf });
  assert.equal(asked.status, 202, await asked.clone().text());
  assert.deepEqual(((await asked.json()) as { recheck: unknown }).recheck, { queued: true });

  const corrupt = await backupIn(db, newer.id, { states: ['corrupt'] });
  assert.match(corrupt.corruptionReason ?? '', /SHA-256 is [0-9a-f]{64}; [0-9a-f]{64} was verified/);
  const events = await listEvents(db, newer.id);
  assert.equal(events.filter((e) => e.state === 'archive.corrupt').length, 1, 'one archive.corrupt event');

  const json = (await (await apiCall(app.url, 'GET', `/backups/${newer.id}`, { browser })).json()) as {
    state: string;
    downloadable: boolean;
    corruption: { reason: string } | null;
  };
  assert.equal(json.state, 'corrupt');
  assert.equal(json.downloadable, false);
  assert.match(json.corruption?.reason ?? '', /SHA-256/);

  const dead = await fetch(url, { redirect: 'manual' });
  assert.equal(dead.status, 410);
  assert.match(await dead.text(), /re-check found the archive behind this link changed or missing/);
  const refused = await apiCall(app.url, 'POST', `/backups/${newer.id}/links`, { browser, csrf, body: {} });
  assert.equal(refused.status, 409);

  const afterwards = decideRetention({
    backups: await listResourceBackups(db, uuid),
    retention: ONE_MANUAL,
    timeZone: 'UTC',
    now: new Date(),
  });
  assert.deepEqual(keepRules(afterwards, older.id), ['newest', 'manual'], 'the verified one before it is kept');
  assert.deepEqual(keepRules(afterwards, newer.id), ['recent-corruption']);
  const later = decideRetention({
    backups: await listResourceBackups(db, uuid),
    retention: ONE_MANUAL,
    timeZone: 'UTC',
    now: new Date(Date.now() + 8 * DAY),
  });
  assert.equal(keepRules(later, newer.id), 'deleted', 'a corrupt backup goes a week after it was found');

  const page = await (await browser.request('GET', `/backups/${newer.id}`)).text();
  assert.match(page, /id="corrupt"/);
  assert.match(page, /data-state="corrupt"/);
  assert.doesNotMatch(page, /Re-check now/);
  const list = await (await browser.request('GET', '/dashboard')).text();
  assert.match(list, /archive failed a re-check/);
  const again = await apiCall(app.url, 'POST', `/backups/${newer.id}/recheck`, { browser, csrf });
  assert.equal(again.status, 409, 'a corrupt backup is not re-checked again');
});

test('a vanished object makes the backup corrupt; a store that fails to answer does not', async () => {
  const uuid = await resourceWithDirectSource({ app, sim }, sourceUrl);
  const backup = await completedBackup({ app, sim }, uuid, 'admin@example.com');
  s3.faults = { failGetObjectOf: backup.objectKey!, failGetObjectTimes: 10 };
  try {
    await assert.rejects(recheckBackup(deps, { backupId: backup.id, requestedBy: 'test' }));
  } finally {
    s3.reset();
  }
  assert.equal((await findBackup(db, backup.id))!.state, 'completed', 'an unanswered read proves nothing');

  await bucket.send(new DeleteObjectCommand({ Bucket: s3.bucket, Key: `archives/${backup.objectKey!}` }));
  const result = await recheckBackup(deps, { backupId: backup.id, requestedBy: 'test' });
  assert.equal(result.outcome, 'missing');
  const corrupt = (await findBackup(db, backup.id))!;
  assert.equal(corrupt.state, 'corrupt');
  assert.equal(corrupt.corruptionReason, 'its stored archive is gone from the store');
});

/** A completed backup of `uuid` with a small stored archive, started and verified `daysAgo` days ago. */
async function storedBackup(uuid: string, daysAgo: number, content: string): Promise<Backup> {
  const row = await pendingBackupRow(db, uuid);
  const key = `tenants/${uuid}/${row.id}/attempt-1.dump`;
  const stored = await store.upload(key, Readable.from([Buffer.from(content)]));
  const at = new Date(Date.now() - daysAgo * DAY);
  await forceCompleted(db, row.id, { archive: stored, at, startedAt: at });
  return (await findBackup(db, row.id))!;
}

test('the rolling re-check reads what is due within its byte budget, and a pass clears a re-verification and re-seals the manifest', async () => {
  const uuid = await resourceWithDirectSource({ app, sim }, sourceUrl);
  const monthOld = await storedBackup(uuid, 40, 'verified forty days ago, due (every 30 days)');
  const notDue = await storedBackup(uuid, 10, 'verified ten days ago, not the newest: not due');
  const flagged = await storedBackup(uuid, 20, 'lost its manifest: awaiting re-verification');
  const newest = await storedBackup(uuid, 8, 'the newest verified, eight days ago: due (weekly)');
  await bucket.send(
    new DeleteObjectCommand({ Bucket: s3.bucket, Key: `archives/${flagged.objectKey!}${MANIFEST_SUFFIX}` }),
  );
  assert.ok(await markNeedsReverification(db, flagged.id, 'its manifest is missing'));
  // Two hours ahead, so the bytes the other tests read in the last hour do not count against this budget.
  const now = new Date(Date.now() + 2 * 3600_000);
  const ours = (ids: string[]) => ids.filter((id) => [monthOld, notDue, flagged, newest].some((b) => b.id === id));

  const first = await recheckDueArchives(deps, {
    bytesPerHour: flagged.bytes! + monthOld.bytes! + Math.floor(newest.bytes! / 2),
    now,
  });
  assert.deepEqual(
    ours(first.checked.map((c) => c.backupId)),
    [flagged.id, monthOld.id],
    'awaiting re-verification first, then the longest unproven, until the budget is spent',
  );
  assert.ok(first.deferred >= 1);
  assert.ok(first.checked.every((c) => c.outcome === 'passed'));
  const reverified = (await findBackup(db, flagged.id))!;
  assert.equal(reverified.reverificationRequestedAt, null, 'the flag is cleared');
  assert.ok(reverified.recheckedAt);
  assert.ok((await listEvents(db, flagged.id)).some((e) => e.state === 'reverified'));
  const head = await store.head(flagged.objectKey!);
  assert.equal(head?.manifest?.sha256, flagged.sha256, 'the manifest is written again');
  await bucket.send(
    new HeadObjectCommand({ Bucket: s3.bucket, Key: `archives/${flagged.objectKey!}${MANIFEST_SUFFIX}` }),
  );

  const second = await recheckDueArchives(deps, { bytesPerHour: 1024 ** 3, now });
  assert.deepEqual(ours(second.checked.map((c) => c.backupId)), [newest.id], 'the newest weekly; ten days is not due');
  const third = await recheckDueArchives(deps, { bytesPerHour: 1024 ** 3, now });
  assert.deepEqual(ours(third.checked.map((c) => c.backupId)), [], 'nothing is read twice');
});
