import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomUUID } from 'node:crypto';
import pg from 'pg';
import { startStack, Browser, apiCall, type ApiAuth } from '../../support/stack.ts';
import {
  backdateSchedule,
  backupIn,
  forceCompleted,
  pendingBackupRow,
  seededSourceServer,
  signedInBrowser,
  signedInResource,
} from '../../support/factories.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { beginAttempt, findBackup, markFailed } from '../../../src/backups/backups.repo.ts';
import { appendLogs } from '../../../src/backups/backup-logs.repo.ts';

// The dashboard's pages and the JSON API over the same services, as customers and scripts use them.
const stack = await startStack();
const { app } = stack;
const db = app.runtime.pool;
const { server, sourceUrl } = await seededSourceServer();

const api = (method: string, path: string, options: ApiAuth = {}) => apiCall(app.url, method, path, options);

async function tokenFor(browser: Browser, role: 'admin' | 'member' = 'admin'): Promise<string> {
  const created = await api('POST', '/tokens', {
    browser,
    csrf: await browser.csrfToken(),
    body: { name: `script ${role}`, role },
  });
  assert.equal(created.status, 201);
  return ((await created.json()) as { token: string }).token;
}

const settled = (id: string) => backupIn(db, id);

test('capture now from the dashboard leads to the backup page, which ends verified with digest, contents and restore commands', async () => {
  const { uuid, browser } = await signedInResource(stack);
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const captured = await browser.submit('/backups', { format: 'default' });
  assert.equal(captured.status, 303);
  const location = captured.headers.get('location')!;
  assert.match(location, /^\/backups\/[0-9a-f-]{36}$/);
  const done = await settled(location.split('/').pop()!);
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);

  const page = await (await browser.request('GET', location)).text();
  assert.match(page, /Backup b001/);
  assert.match(page, /completed and verified/);
  assert.ok(page.includes(done.sha256!), 'the digest is shown');
  assert.match(page, /pg_restore --verbose --clean --if-exists --no-acl --no-owner -j 4/);
  assert.match(page, /heroku pg:backups:restore/);
  assert.match(page, /<td>TABLE<\/td><td>public<\/td><td>customers<\/td><td>yes<\/td>/);
  assert.match(page, /Ñandú ☃/);
  assert.ok(!page.includes('heroku_ext'), 'the excluded schema is not in the archive');
  const searched = await (await browser.request('GET', `${location}?q=orders`)).text();
  assert.match(searched, /<td>orders<\/td>/);
  assert.ok(!searched.includes('<td>customers</td>'), 'the search narrows the contents');

  // Download: a link shown once, the same bytes behind it, revocable from the page.
  const linked = await browser.submit(`${location}/links`, { expires_in_seconds: '900' });
  assert.equal(linked.status, 200);
  const linkPage = await linked.text();
  const url = /id="new-link" class="link-url" readonly value="([^"]+)"/.exec(linkPage)?.[1];
  assert.ok(url, 'the new link is shown');
  assert.ok(
    linkPage.includes(`heroku pg:backups:restore '${url}' DATABASE_URL`),
    'the restore command carries the fresh link',
  );
  const downloaded = await fetch(url);
  assert.equal(downloaded.status, 200);
  assert.match(downloaded.headers.get('content-disposition')!, /attachment; filename="[^"]+-b001-\d{8}\.dump"/);
  assert.equal(
    createHash('sha256')
      .update(Buffer.from(await downloaded.arrayBuffer()))
      .digest('hex'),
    done.sha256,
  );
  const again = await (await browser.request('GET', location)).text();
  assert.ok(!again.includes(url), 'the link is not shown a second time');
  const linkId = /action="\/backups\/[0-9a-f-]+\/links\/([0-9a-f-]+)\/revoke"/.exec(again)?.[1];
  assert.ok(linkId);
  assert.equal((await browser.submit(`${location}/links/${linkId}/revoke`)).status, 303);
  assert.equal((await fetch(url)).status, 410, 'a revoked link is refused');

  const list = await (await browser.request('GET', '/dashboard')).text();
  assert.match(list, new RegExp(`<a href="${location}">b001</a>`));
  const audited = await db.query(
    `select action, host(ip) as ip from audit_events where resource_id = $1 and action in ('backup.requested', 'link.created', 'link.used', 'link.revoked')`,
    [uuid],
  );
  assert.deepEqual(
    new Set(audited.rows.map((r) => r.action)),
    new Set(['backup.requested', 'link.created', 'link.used', 'link.revoked']),
  );
  assert.ok(
    audited.rows.every((r) => r.ip === '127.0.0.1'),
    'who did it is recorded with the address it came from',
  );
  assert.match(list, /completed and verified/);
});

test("capture now is refused with the plan's limit explained while a backup is queued or running", async () => {
  const { uuid, browser } = await signedInResource(stack);
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  // Hold a lock pg_dump must wait for, so the first backup is surely still running.
  const blocker = new pg.Client(sourceUrl);
  await blocker.connect();
  await blocker.query('begin');
  await blocker.query('lock table public.customers in access exclusive mode');
  const first = await api('POST', '/backups', { browser, csrf: await browser.csrfToken(), body: {} });
  assert.equal(first.status, 201);
  const second = await browser.submit('/backups', { format: 'default' });
  assert.equal(second.status, 409);
  assert.match(await second.text(), /already queued or running; your plan runs one at a time/);
  await blocker.query('rollback');
  await blocker.end();
  await settled(((await first.json()) as { id: string }).id);
});

test('the JSON API lists, captures, shows and cancels backups with an API token, and validates input with 422 naming the field', async () => {
  const { uuid, browser } = await signedInResource(stack);
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const token = await tokenFor(browser, 'member');

  const bad = await api('POST', '/backups', { token, body: { format: 'zip' } });
  assert.equal(bad.status, 422);
  const badBody = (await bad.json()) as { code: string; message: string; fields: string[] };
  assert.equal(badBody.code, 'invalid_input');
  assert.deepEqual(badBody.fields, ['format']);

  const created = await api('POST', '/backups', { token, body: { format: 'fast' } });
  assert.equal(created.status, 201);
  const backup = (await created.json()) as { id: string; name: string; format: string; requested_by: string };
  assert.equal(backup.format, 'fast');
  assert.match(backup.requested_by, /API token "script member"/);
  await settled(backup.id);

  const shown = (await (await api('GET', `/backups/${backup.id}?contents=1`, { token })).json()) as Record<string, any>;
  assert.equal(shown.state, 'completed');
  assert.equal(shown.downloadable, true);
  assert.match(shown.archive.sha256, /^[0-9a-f]{64}$/);
  assert.ok(shown.verification.table_count >= 4);
  assert.ok(shown.logs.length > 0 && shown.events.length >= 4);
  assert.ok(shown.contents.entries.some((e: { name: string }) => e.name === 'customers'));
  const later = (await (
    await api('GET', `/backups/${backup.id}?logs_after=${shown.logs.at(-1).id}`, { token })
  ).json()) as { logs: unknown[]; logs_more: boolean };
  assert.deepEqual(later.logs, [], 'logs_after returns only newer lines');
  assert.equal(later.logs_more, false);

  // A reader that fell behind (a tab asleep while 1,200 lines came) gets every line, in order, page by page.
  const behind = shown.logs.at(-1).id as number;
  await appendLogs(
    db,
    backup.id,
    1,
    Array.from({ length: 1200 }, (_, i) => `line ${i}`),
  );
  const read: string[] = [];
  let after = behind;
  for (let page = 0; page < 5; page++) {
    const next = (await (await api('GET', `/backups/${backup.id}?logs_after=${after}`, { token })).json()) as {
      logs: Array<{ id: number; message: string }>;
      logs_more: boolean;
    };
    read.push(...next.logs.map((l) => l.message));
    if (next.logs.length > 0) after = next.logs.at(-1)!.id;
    if (!next.logs_more) break;
  }
  assert.deepEqual(
    read,
    Array.from({ length: 1200 }, (_, i) => `line ${i}`),
  );
  const opening = (await (await api('GET', `/backups/${backup.id}`, { token })).json()) as {
    logs: Array<{ message: string }>;
  };
  assert.equal(opening.logs.length, 500, 'a page opening shows the last lines');
  assert.equal(opening.logs.at(-1)!.message, 'line 1199');

  const list = (await (await api('GET', '/backups', { token })).json()) as {
    backups: Array<{ id: string }>;
    total: number;
    pages: number;
  };
  assert.equal(list.total, 1);
  assert.equal(list.backups[0]!.id, backup.id);
  assert.equal(
    (await api('POST', `/backups/${backup.id}/cancel`, { token })).status,
    409,
    'a finished backup cannot be canceled',
  );
  assert.equal((await api('GET', '/backups?page=0', { token })).status, 422);
});

test('schedule and source: members read, admins change; bad values get 422 naming the field; an unreachable URL is refused', async () => {
  const { browser } = await signedInResource(stack);
  const admin = await tokenFor(browser, 'admin');
  const member = await tokenFor(browser, 'member');

  assert.equal(
    (
      await api('PUT', '/schedule', {
        token: member,
        body: { frequency: 'daily', hour: 3, minute: 0, timeZone: 'UTC' },
      })
    ).status,
    403,
  );
  const wrongZone = await api('PUT', '/schedule', {
    token: admin,
    body: { frequency: 'daily', hour: 3, minute: 0, timeZone: 'Mars/Olympus' },
  });
  assert.equal(wrongZone.status, 422);
  assert.deepEqual(((await wrongZone.json()) as { fields: string[] }).fields, ['timeZone']);
  const saved = await api('PUT', '/schedule', {
    token: admin,
    body: { frequency: 'daily', hour: 2, minute: 30, timeZone: 'Asia/Tokyo' },
  });
  assert.equal(saved.status, 200);
  const described = (await (await api('GET', '/schedule', { token: member })).json()) as {
    schedule: { timeZone: string };
    nextRuns: string[];
  };
  assert.equal(described.schedule.timeZone, 'Asia/Tokyo');
  assert.equal(new Date(described.nextRuns[0]!).getUTCHours(), 17, '02:30 in Tokyo is 17:30 UTC');

  const unreachable = new URL(sourceUrl);
  unreachable.password = 'not-the-password';
  const refused = await api('PUT', '/source', { token: admin, body: { url: unreachable.toString() } });
  assert.equal(refused.status, 422);
  const refusal = (await refused.json()) as { message: string; fields: string[] };
  assert.deepEqual(refusal.fields, ['url']);
  assert.ok(!refusal.message.includes('not-the-password'), 'the URL is never repeated');
  assert.equal((await api('PUT', '/source', { token: member, body: { url: sourceUrl } })).status, 403);
  const ok = await api('PUT', '/source', { token: admin, body: { url: sourceUrl } });
  assert.equal(ok.status, 200);
  const source = (await (await api('GET', '/source', { token: member })).json()) as {
    source: { kind: string; description: string };
  };
  assert.equal(source.source.kind, 'direct');
  assert.ok(!JSON.stringify(source).includes(server.password), 'the password is never shown');

  // The same through the settings page's form, with the error shown beside the form.
  const page = await browser.submit('/settings/schedule', {
    frequency: 'daily',
    hour: '25',
    minute: '0',
    timeZone: 'UTC',
  });
  assert.equal(page.status, 422);
  assert.match(await page.text(), /hour of the day, from 0/);
  const good = await browser.submit('/settings/schedule', {
    frequency: 'hourly',
    minute: '15',
    timeZone: 'Europe/Paris',
  });
  assert.equal(good.status, 303);
  assert.match(
    await (await browser.request('GET', '/settings')).text(),
    /Backups run <strong>hourly<\/strong>\s+at minute 15 of every hour,\s+Europe\/Paris time/,
  );
  const audit = await (await browser.request('GET', '/audit')).text();
  assert.match(audit, /schedule\.set/);
  assert.match(audit, /source\.set/);
  assert.match(audit, /user\.signed_in/);
});

test("another resource's backups are 404 on every page and API route, by session and by API token", async () => {
  const a = await signedInResource(stack);
  const b = await signedInResource(stack);
  await setDirectSource(db, app.runtime.secrets, b.uuid, sourceUrl, 'admin@example.com');
  const bToken = await tokenFor(b.browser);
  const theirs = (await (await api('POST', '/backups', { token: bToken, body: {} })).json()) as { id: string };
  await settled(theirs.id);
  const aToken = await tokenFor(a.browser);
  const csrf = await a.browser.csrfToken();

  for (const path of [`/backups/${theirs.id}`, `/backups/${theirs.id}?q=customers`]) {
    assert.equal((await a.browser.request('GET', path)).status, 404, path);
  }
  assert.equal((await a.browser.submit(`/backups/${theirs.id}/cancel`)).status, 404);
  assert.equal((await a.browser.submit(`/backups/${theirs.id}/links`)).status, 404);
  const theirLink = (await (await api('POST', `/backups/${theirs.id}/links`, { token: bToken, body: {} })).json()) as {
    id: string;
    url: string;
  };
  assert.equal((await a.browser.submit(`/backups/${theirs.id}/links/${theirLink.id}/revoke`)).status, 404);
  assert.equal((await api('DELETE', `/links/${theirLink.id}`, { token: aToken })).status, 404);
  assert.equal((await api('GET', `/backups/${theirs.id}/links`, { token: aToken })).status, 404);
  assert.equal((await fetch(theirLink.url, { method: 'HEAD' })).status, 200, 'their link still works for them');
  for (const auth of [{ token: aToken }, { browser: a.browser, csrf }]) {
    assert.equal((await api('GET', `/backups/${theirs.id}`, auth)).status, 404);
    assert.equal((await api('POST', `/backups/${theirs.id}/cancel`, auth)).status, 404);
    const list = (await (await api('GET', '/backups', auth)).json()) as { backups: Array<{ id: string }> };
    assert.ok(!list.backups.some((x) => x.id === theirs.id));
  }
  assert.equal((await api('GET', `/backups/${randomUUID()}`, { token: aToken })).status, 404);
  assert.equal((await api('GET', '/backups/not-a-uuid', { token: aToken })).status, 404);
  assert.equal((await api('POST', '/backups/not-a-uuid/cancel', { token: aToken })).status, 404);
  assert.equal((await a.browser.submit('/backups/not-a-uuid/cancel')).status, 404);
  assert.ok(!(await (await a.browser.request('GET', '/dashboard')).text()).includes(theirs.id));
});

test('state-changing forms and session API calls without the CSRF token are refused with 403', async () => {
  const { uuid, browser } = await signedInResource(stack);
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const headers = { origin: new URL(app.url).origin, 'sec-fetch-site': 'same-origin' };
  for (const [path, form] of [
    ['/backups', { format: 'default' }],
    ['/settings/schedule', { frequency: 'hourly', minute: '1', timeZone: 'UTC' }],
    ['/settings/tokens', { name: 'x' }],
    ['/settings/source', { url: sourceUrl }],
  ] as const) {
    assert.equal((await browser.request('POST', path, { form, headers })).status, 403, path);
  }
  assert.equal((await api('POST', '/backups', { browser, body: {} })).status, 403);
  assert.equal(
    (await db.query('select count(*)::int as n from backups where resource_id = $1', [uuid])).rows[0].n,
    0,
    'nothing was captured',
  );
});

test('Capture now waits while a backup runs on any page, and a page past the end offers the last one', async () => {
  const { uuid, browser } = await signedInResource(stack);
  // 60 finished backups and, older than all of them, one still running: it is on page 2.
  await db.query(
    `insert into backups (id, resource_id, trigger, number, state, requested_by, created_at)
     select gen_random_uuid(), $1, 'manual', n, case when n = 1 then 'running' else 'failed' end, 'seed', now() - (100 - n) * interval '1 minute'
     from generate_series(1, 61) n`,
    [uuid],
  );
  const first = await (await browser.request('GET', '/dashboard')).text();
  assert.match(
    first,
    /<button type="submit" disabled title="A backup is already queued or running; your plan runs one at a time.">Capture now<\/button>/,
  );
  const beyond = await (await browser.request('GET', '/dashboard?page=9')).text();
  assert.doesNotMatch(beyond, /No backups exist yet/);
  assert.match(beyond, /past the last one\. <a href="\/dashboard\?page=2">Go to page 2<\/a>/);
});

test('members view and capture, but cannot change settings', async () => {
  const admin = await signedInResource(stack);
  const member = {
    browser: await signedInBrowser(stack, admin.uuid, `member-${admin.uuid.slice(0, 8)}@example.com`),
  };
  await setDirectSource(db, app.runtime.secrets, admin.uuid, sourceUrl, 'admin@example.com');
  const settings = await (await member.browser.request('GET', '/settings')).text();
  assert.match(settings, /only an admin of this add-on can change them/);
  assert.ok(!settings.includes('action="/settings/schedule"'), 'no schedule form for members');
  assert.equal(
    (await member.browser.submit('/settings/schedule', { frequency: 'hourly', minute: '5', timeZone: 'UTC' })).status,
    403,
  );
  const captured = await member.browser.submit('/backups', { format: 'default' });
  assert.equal(captured.status, 303);
  await settled(captured.headers.get('location')!.split('/').pop()!);
});

test('the list pages through 10,000 backups, newest first', async () => {
  const { uuid, browser } = await signedInResource(stack);
  await db.query(
    `insert into backups (id, resource_id, trigger, number, state, requested_by, created_at, started_at, finished_at, bytes, source_bytes)
     select gen_random_uuid(), $1, 'manual', n, 'failed', 'seed', now() - (10001 - n) * interval '1 minute', now() - (10001 - n) * interval '1 minute',
       now() - (10001 - n) * interval '1 minute' + interval '30 seconds', 1000 * n, 2000 * n
     from generate_series(1, 10000) n`,
    [uuid],
  );
  const first = await (await browser.request('GET', '/dashboard')).text();
  assert.match(first, /\(10,000\)/);
  assert.match(first, /Page 1 of 200/);
  assert.match(first, />b10000</);
  const last = await (await browser.request('GET', '/dashboard?page=200')).text();
  assert.match(last, />b001</);
  assert.ok(!last.includes('>b10000<'));
});

test('warns on the dashboard and in the API when scheduled backups have stopped producing verified archives', async () => {
  const { uuid, browser } = await signedInResource(stack);
  const token = await tokenFor(browser, 'admin');
  assert.equal(
    (await api('PUT', '/schedule', { token, body: { frequency: 'hourly', minute: 0, timeZone: 'UTC' } })).status,
    200,
  );
  const fresh = (await (await api('GET', '/backups', { token })).json()) as { freshness: { stale: boolean } };
  assert.equal(fresh.freshness.stale, false, 'a new schedule has its grace period');
  assert.ok(!(await (await browser.request('GET', '/dashboard')).text()).includes('Backups are stale'));
  // Two hours later, with nothing verified: more than 1.5 hourly intervals.
  await backdateSchedule(db, uuid, '2 hours');
  const stale = (await (await api('GET', '/backups', { token })).json()) as {
    freshness: { stale: boolean; warning: string };
  };
  assert.equal(stale.freshness.stale, true);
  assert.match(stale.freshness.warning, /none has been verified yet/);
  assert.match(await (await browser.request('GET', '/dashboard')).text(), /Backups are stale/);
});

test('a schedule set after the newest verified backup gets its own grace period', async () => {
  const { uuid, browser } = await signedInResource(stack);
  const token = await tokenFor(browser, 'admin');
  // A manual backup verified three days ago, then a daily schedule set now.
  const old = await pendingBackupRow(db, uuid);
  await forceCompleted(db, old.id, { at: new Date(Date.now() - 3 * 24 * 3600_000) });
  assert.equal(
    (await api('PUT', '/schedule', { token, body: { frequency: 'daily', hour: 3, minute: 0, timeZone: 'UTC' } }))
      .status,
    200,
  );
  const fresh = (await (await api('GET', '/backups', { token })).json()) as { freshness: { stale: boolean } };
  assert.equal(fresh.freshness.stale, false);
  await backdateSchedule(db, uuid, '2 days');
  const stale = (await (await api('GET', '/backups', { token })).json()) as { freshness: { stale: boolean } };
  assert.equal(stale.freshness.stale, true, 'two days on, with nothing new verified, it is late');
});

test('a retry that is running shows no failure of the attempt before it', async () => {
  const { uuid } = await signedInResource(stack);
  const backup = await pendingBackupRow(db, uuid);
  const first = (await beginAttempt(db, backup.id))!;
  assert.ok(
    await markFailed(db, backup.id, first.token, { kind: 'interrupted', reason: 'the worker restarted', final: false }),
  );
  assert.equal((await findBackup(db, backup.id))!.failureKind, 'interrupted', 'shown while the retry is due');
  const second = (await beginAttempt(db, backup.id))!;
  assert.equal(second.backup.state, 'running');
  assert.equal(second.backup.failureKind, null);
  assert.equal(second.backup.failureReason, null);
  const events = await db.query(`select detail from backup_events where backup_id = $1 and detail like '%restarted%'`, [
    backup.id,
  ]);
  assert.equal(events.rowCount, 1, "the history keeps the first attempt's failure");
});
