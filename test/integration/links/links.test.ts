import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startStack, Browser, apiCall, type ApiAuth, type Stack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import {
  attributeDownloadLink,
  completedBackup,
  expireDownloadLink,
  forceFailed,
  pendingBackupRow,
  provisionedResource,
  seededSourceServer,
  setVerifiedAt,
  signedInBrowser,
} from '../../support/factories.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { markNeedsReverification } from '../../../src/backups/backups.repo.ts';
import { MANIFEST_SUFFIX } from '../../../src/storage/keys.ts';
import type { Backup } from '../../../src/backups/backup.ts';

// Download links end to end: web + worker + simulator on a fresh database, real backups of a real
// source into local-disk storage (and, at the end, into the S3-protocol server). Each test sends its
// own X-Forwarded-For address (the app trusts one proxy hop, as behind Heroku's router), so the
// per-IP rate limit of one test never spills into another, and audit rows can be checked for it.

const stack = await startStack();
const { app, sim } = stack;
const db = app.runtime.pool;
const { sourceUrl } = await seededSourceServer();

let nextIp = 1;
/** A fresh client address for one test. */
const clientIp = () => `10.77.${Math.floor(nextIp / 250)}.${(nextIp++ % 250) + 1}`;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

interface Tenant {
  uuid: string;
  appName: string;
  backup: Backup;
  admin: Browser;
  adminCsrf: string;
}

/** A provisioned resource with one completed, verified backup (a real pg_dump, ~1 s) and a signed-in admin. */
async function tenantWithBackup(on: Stack = stack): Promise<Tenant> {
  const { uuid, appName } = await provisionedResource(on);
  await setDirectSource(on.app.runtime.pool, on.app.runtime.secrets, uuid, sourceUrl, 'owner@example.com');
  const backup = await completedBackup(on, uuid, 'owner@example.com');
  const admin = await signedInBrowser(on, uuid, `owner-${uuid.slice(0, 8)}@example.com`);
  return { uuid, appName: appName!, backup, admin, adminCsrf: await admin.csrfToken() };
}

interface ApiOptions extends ApiAuth {
  base?: string;
}
const api = (method: string, path: string, options: ApiOptions = {}) =>
  apiCall(options.base ?? app.url, method, path, options);

interface CreatedLink {
  id: string;
  url: string;
  prefix: string;
  filename: string;
  expires_at: string;
  backup: { id: string; name: string; sha256: string; bytes: number };
}
async function createLink(tenant: Tenant, body: unknown = {}, ip = clientIp(), base?: string): Promise<CreatedLink> {
  const response = await api('POST', `/backups/${tenant.backup.id}/links`, {
    browser: tenant.admin,
    csrf: tenant.adminCsrf,
    body,
    ip,
    ...(base ? { base } : {}),
  });
  assert.equal(response.status, 201, await response.clone().text());
  return (await response.json()) as CreatedLink;
}

/** Follows a link the way curl would without -L: one request, redirects not followed. */
function follow(
  url: string,
  options: { ip: string; headers?: Record<string, string>; method?: string },
): Promise<Response> {
  return fetch(url, {
    method: options.method ?? 'GET',
    redirect: 'manual',
    headers: { 'x-forwarded-for': options.ip, ...options.headers },
  });
}

const tenant = await tenantWithBackup();
const other = await tenantWithBackup();
// S3: the same flow against the S3-protocol server, where the link redirects to a presigned GET. Started
// here with the rest: see test/unit/test-file-setup.test.ts for why no setup may follow the first test.
const s3 = await startS3Server();
after(() => s3.close());
const s3Stack = await startStack({ env: { STORAGE_URL: s3.url('archives'), ...s3.env } });
const s3Tenant = await tenantWithBackup(s3Stack);

test("a member's API token creates a link, and following it downloads the whole archive byte for byte", async () => {
  const ip = clientIp();
  const minted = await api('POST', '/tokens', {
    browser: tenant.admin,
    csrf: tenant.adminCsrf,
    body: { name: 'ci', role: 'member' },
  });
  const { token } = (await minted.json()) as { token: string };
  const created = await api('POST', `/backups/${tenant.backup.id}/links`, { token, body: {}, ip });
  assert.equal(created.status, 201);
  const link = (await created.json()) as CreatedLink;
  assert.match(link.url, new RegExp(`^${app.config.PUBLIC_URL}/d/bbl_[A-Za-z0-9_-]{43}$`));
  const lifetime = Date.parse(link.expires_at) - Date.now();
  assert.ok(lifetime > 3_500_000 && lifetime <= 3_600_000, `default lifetime is an hour, got ${lifetime} ms`);
  assert.equal(link.backup.id, tenant.backup.id);
  assert.equal(link.backup.sha256, tenant.backup.sha256);

  const response = await follow(link.url, { ip });
  assert.equal(response.status, 200);
  const day = tenant.backup.createdAt.toISOString().slice(0, 10).replace(/-/g, '');
  assert.equal(
    response.headers.get('content-disposition'),
    `attachment; filename="${tenant.appName}-b001-${day}.dump"; filename*=UTF-8''${tenant.appName}-b001-${day}.dump`,
  );
  assert.equal(response.headers.get('accept-ranges'), 'bytes');
  assert.equal(response.headers.get('content-length'), String(tenant.backup.bytes));
  assert.equal(response.headers.get('etag'), `"${tenant.backup.sha256}"`);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  const body = Buffer.from(await response.arrayBuffer());
  assert.equal(body.length, tenant.backup.bytes);
  assert.equal(sha256(body), tenant.backup.sha256);

  const row = (
    await db.query(
      'select use_count, host(last_used_ip) as ip, last_used_at, created_by from download_links where id = $1',
      [link.id],
    )
  ).rows[0];
  assert.equal(row.use_count, 1);
  assert.equal(row.ip, ip);
  assert.ok(row.last_used_at);
  assert.equal(row.created_by, 'API token "ci"');
});

test('a signed-in member creates links only with the CSRF header, and lists show the prefix, never the token', async () => {
  const member = await signedInBrowser(stack, tenant.uuid, `member-${randomBytes(3).toString('hex')}@example.com`);
  const refused = await api('POST', `/backups/${tenant.backup.id}/links`, { browser: member, body: {} });
  assert.equal(refused.status, 403);
  assert.equal(((await refused.json()) as { code: string }).code, 'csrf_failed');
  const csrf = await member.csrfToken();
  const created = await api('POST', `/backups/${tenant.backup.id}/links`, {
    browser: member,
    csrf,
    body: { expires_in_seconds: 600 },
  });
  assert.equal(created.status, 201);
  const link = (await created.json()) as CreatedLink;
  const lifetime = Date.parse(link.expires_at) - Date.now();
  assert.ok(lifetime > 500_000 && lifetime <= 600_000, `asked for 10 minutes, got ${lifetime} ms`);

  const listed = await api('GET', `/backups/${tenant.backup.id}/links`, { browser: member });
  assert.equal(listed.status, 200);
  const text = await listed.text();
  const token = link.url.split('/d/')[1]!;
  assert.ok(!text.includes(token), 'the token is never listed');
  const mine = (
    JSON.parse(text) as { links: Array<{ id: string; prefix: string; status: string; url?: string }> }
  ).links.find((l) => l.id === link.id);
  assert.ok(mine, 'the new link is listed');
  assert.equal(mine.prefix, token.slice(0, 10));
  assert.equal(mine.status, 'active');
  assert.equal(mine.url, undefined);
});

test('bad lifetimes and unknown fields are a 422 naming the field', async () => {
  for (const body of [
    { expires_in_seconds: 59 },
    { expires_in_seconds: 7 * 86_400 + 1 },
    { expires_in_seconds: '3600' },
    { expires_in_seconds: 90.5 },
  ]) {
    const response = await api('POST', `/backups/${tenant.backup.id}/links`, {
      browser: tenant.admin,
      csrf: tenant.adminCsrf,
      body,
    });
    assert.equal(response.status, 422, JSON.stringify(body));
    const problem = (await response.json()) as { code: string; fields: string[]; message: string };
    assert.equal(problem.code, 'invalid_input');
    assert.deepEqual(problem.fields, ['expires_in_seconds']);
  }
  const unknown = await api('POST', `/backups/${tenant.backup.id}/links`, {
    browser: tenant.admin,
    csrf: tenant.adminCsrf,
    body: { key: 'tenants/x/y.dump' },
  });
  assert.equal(unknown.status, 422);
  assert.match(((await unknown.json()) as { message: string }).message, /key/);
  const longest = await api('POST', `/backups/${tenant.backup.id}/links`, {
    browser: tenant.admin,
    csrf: tenant.adminCsrf,
    body: { expires_in_seconds: 7 * 86_400 },
  });
  assert.equal(longest.status, 201, 'seven days is allowed');
});

test('a Range request resumes a download with exactly the missing bytes, and HEAD counts no use', async () => {
  const ip = clientIp();
  const link = await createLink(tenant);
  const whole = Buffer.from(await (await follow(link.url, { ip })).arrayBuffer());
  const size = whole.length;
  assert.equal(sha256(whole), tenant.backup.sha256);

  const head = await follow(link.url, { ip, method: 'HEAD', headers: { range: 'bytes=0-99' } });
  assert.equal(head.status, 206);
  assert.equal(head.headers.get('content-length'), '100');

  const first = await follow(link.url, { ip, headers: { range: 'bytes=0-99' } });
  assert.equal(first.status, 206);
  assert.equal(first.headers.get('content-range'), `bytes 0-99/${size}`);
  const firstBytes = Buffer.from(await first.arrayBuffer());
  const rest = await follow(link.url, {
    ip,
    headers: { range: 'bytes=100-', 'if-range': `"${tenant.backup.sha256}"` },
  });
  assert.equal(rest.status, 206);
  assert.equal(rest.headers.get('content-range'), `bytes 100-${size - 1}/${size}`);
  assert.equal(rest.headers.get('content-length'), String(size - 100));
  const restBytes = Buffer.from(await rest.arrayBuffer());
  assert.equal(sha256(Buffer.concat([firstBytes, restBytes])), tenant.backup.sha256, 'resumed download is whole');

  const tail = await follow(link.url, { ip, headers: { range: 'bytes=-50' } });
  assert.equal(tail.status, 206);
  assert.deepEqual(Buffer.from(await tail.arrayBuffer()), whole.subarray(size - 50));
  const clamped = await follow(link.url, { ip, headers: { range: `bytes=${size - 10}-${size + 1000}` } });
  assert.equal(clamped.headers.get('content-range'), `bytes ${size - 10}-${size - 1}/${size}`);
  assert.deepEqual(Buffer.from(await clamped.arrayBuffer()), whole.subarray(size - 10));
  const stale = await follow(link.url, { ip, headers: { range: 'bytes=100-', 'if-range': '"not-this-file"' } });
  assert.equal(stale.status, 200, 'a changed validator gets the whole file');
  await stale.arrayBuffer();

  const uses = (await db.query('select use_count from download_links where id = $1', [link.id])).rows[0].use_count;
  assert.equal(uses, 6, 'six GETs counted, the HEAD not');
});

test('a range past the end of the file is 416 with the size, and counts no use', async () => {
  const ip = clientIp();
  const link = await createLink(tenant);
  const size = tenant.backup.bytes!;
  for (const range of [`bytes=${size}-`, `bytes=${size + 5}-${size + 10}`, 'bytes=-0']) {
    const response = await follow(link.url, { ip, headers: { range } });
    assert.equal(response.status, 416, range);
    assert.equal(response.headers.get('content-range'), `bytes */${size}`);
    assert.equal(response.headers.get('content-disposition'), null, 'no attachment for an error');
  }
  assert.equal((await db.query('select use_count from download_links where id = $1', [link.id])).rows[0].use_count, 0);
  const reversed = await follow(link.url, { ip, headers: { range: 'bytes=100-50' } });
  assert.equal(reversed.status, 200, 'an invalid range is ignored: the whole file');
  assert.equal((await reversed.arrayBuffer()).byteLength, size);
});

test('an expired link is 410, never the file', async () => {
  // Time is moved in the database, whose clock decides expiry both at creation and at redemption.
  const ip = clientIp();
  const link = await createLink(tenant, { expires_in_seconds: 60 });
  assert.equal((await follow(link.url, { ip, method: 'HEAD' })).status, 200, 'live before');
  await expireDownloadLink(db, link.id);
  for (const headers of [{}, { range: 'bytes=0-9' }] as Array<Record<string, string>>) {
    const response = await follow(link.url, { ip, headers });
    assert.equal(response.status, 410);
    assert.equal(response.headers.get('content-disposition'), null);
    assert.match(await response.text(), /expired/);
  }
  const row = (await db.query('select use_count from download_links where id = $1', [link.id])).rows[0];
  assert.equal(row.use_count, 0);
});

test("a revoked link is 410; only an admin or the link's creator may revoke it", async () => {
  const ip = clientIp();
  const creatorEmail = `creator-${randomBytes(3).toString('hex')}@example.com`;
  const creator = await signedInBrowser(stack, tenant.uuid, creatorEmail);
  const creatorCsrf = await creator.csrfToken();
  const bystander = await signedInBrowser(
    stack,
    tenant.uuid,
    `bystander-${randomBytes(3).toString('hex')}@example.com`,
  );
  const bystanderCsrf = await bystander.csrfToken();
  const make = async () => {
    const response = await api('POST', `/backups/${tenant.backup.id}/links`, {
      browser: creator,
      csrf: creatorCsrf,
      body: {},
    });
    const body = (await response.json()) as CreatedLink;
    assert.equal(response.status, 201, JSON.stringify(body));
    return body;
  };

  const revokedByAdmin = await make();
  assert.equal(
    (await api('DELETE', `/links/${revokedByAdmin.id}`, { browser: bystander, csrf: bystanderCsrf })).status,
    403,
    'another member may not',
  );
  assert.equal((await follow(revokedByAdmin.url, { ip, method: 'HEAD' })).status, 200, 'still live');
  assert.equal(
    (await api('DELETE', `/links/${revokedByAdmin.id}`, { browser: tenant.admin })).status,
    403,
    'session revokes need CSRF',
  );
  assert.equal(
    (await api('DELETE', `/links/${revokedByAdmin.id}`, { browser: tenant.admin, csrf: tenant.adminCsrf })).status,
    204,
  );
  const response = await follow(revokedByAdmin.url, { ip });
  assert.equal(response.status, 410);
  assert.equal(response.headers.get('content-disposition'), null);
  assert.match(await response.text(), /revoked/);
  assert.equal(
    (await api('DELETE', `/links/${revokedByAdmin.id}`, { browser: tenant.admin, csrf: tenant.adminCsrf })).status,
    204,
    'revoking twice is harmless',
  );

  const revokedByCreator = await make();
  const byCreator = await api('DELETE', `/links/${revokedByCreator.id}`, { browser: creator, csrf: creatorCsrf });
  assert.equal(byCreator.status, 204, await byCreator.text());
  assert.equal((await follow(revokedByCreator.url, { ip })).status, 410);
  const revokedBy = async (id: string) =>
    (await db.query('select revoked_by from download_links where id = $1', [id])).rows[0].revoked_by;
  assert.match(await revokedBy(revokedByAdmin.id), /^owner-/);
  assert.equal(await revokedBy(revokedByCreator.id), creatorEmail);
  const audits = await db.query(
    `select count(*)::int as n from audit_events where action = 'link.revoked' and detail->>'linkId' = $1`,
    [revokedByAdmin.id],
  );
  assert.equal(audits.rows[0].n, 1, 'one audit row for one revocation');
});

test("a link's creator is who made it, not their name: another member token with the same name may not revoke it", async () => {
  const mint = async () => {
    const minted = await api('POST', '/tokens', {
      browser: tenant.admin,
      csrf: tenant.adminCsrf,
      body: { name: 'deploy', role: 'member' },
    });
    assert.equal(minted.status, 201);
    return ((await minted.json()) as { token: string }).token;
  };
  const [first, second] = [await mint(), await mint()];
  const created = await api('POST', `/backups/${tenant.backup.id}/links`, { token: first, body: {} });
  assert.equal(created.status, 201);
  const link = (await created.json()) as CreatedLink;
  assert.equal((await api('DELETE', `/links/${link.id}`, { token: second })).status, 403, 'same name, another token');
  assert.equal((await api('DELETE', `/links/${link.id}`, { token: first })).status, 204, 'the token that made it');
});

test('the backup page offers Revoke on the links the viewer may revoke: by who made them, not by their name', async () => {
  const creator = await signedInBrowser(stack, tenant.uuid, `renamed-${randomBytes(3).toString('hex')}@example.com`);
  const created = await api('POST', `/backups/${tenant.backup.id}/links`, {
    browser: creator,
    csrf: await creator.csrfToken(),
    body: {},
  });
  assert.equal(created.status, 201);
  const link = (await created.json()) as CreatedLink;
  const namesake = `namesake-${randomBytes(3).toString('hex')}@example.com`;
  const other = await signedInBrowser(stack, tenant.uuid, namesake);
  // The creator's Heroku email changed since; the link keeps the old name and who made it. The old
  // name now belongs to someone else.
  await attributeDownloadLink(db, link.id, namesake);
  const revokeForm = `/backups/${tenant.backup.id}/links/${link.id}/revoke`;
  assert.ok(
    (await (await creator.request('GET', `/backups/${tenant.backup.id}`)).text()).includes(revokeForm),
    'the creator sees Revoke',
  );
  assert.ok(
    !(await (await other.request('GET', `/backups/${tenant.backup.id}`)).text()).includes(revokeForm),
    'the namesake does not',
  );
  assert.ok(
    (await (await tenant.admin.request('GET', `/backups/${tenant.backup.id}`)).text()).includes(revokeForm),
    'the admin does',
  );
});

test("revoking an API token revokes the download links it made, and no one else's", async () => {
  const minted = await api('POST', '/tokens', {
    browser: tenant.admin,
    csrf: tenant.adminCsrf,
    body: { name: 'leaky ci', role: 'member' },
  });
  assert.equal(minted.status, 201);
  const token = (await minted.json()) as { id: string; token: string };
  const viaToken = await api('POST', `/backups/${tenant.backup.id}/links`, {
    token: token.token,
    body: { expires_in_seconds: 604_800 },
  });
  assert.equal(viaToken.status, 201);
  const tokenLink = (await viaToken.json()) as CreatedLink;
  const adminLink = await createLink(tenant);
  const ip = clientIp();
  assert.equal((await follow(tokenLink.url, { ip, method: 'HEAD' })).status, 200, 'works before');

  assert.equal(
    (await api('DELETE', `/tokens/${token.id}`, { browser: tenant.admin, csrf: tenant.adminCsrf })).status,
    204,
  );
  assert.equal((await follow(tokenLink.url, { ip })).status, 410);
  assert.equal((await follow(adminLink.url, { ip, method: 'HEAD' })).status, 200, "the admin's own link still works");
  const audit = await db.query(
    `select detail from audit_events where resource_id = $1 and action = 'api_token.revoked' and detail->>'tokenId' = $2`,
    [tenant.uuid, token.id],
  );
  assert.equal(audit.rows[0].detail.linksRevoked, 1);
});

test('an unknown or malformed token is 404', async () => {
  const ip = clientIp();
  for (const path of [
    `/d/bbl_${randomBytes(32).toString('base64url')}`,
    '/d/bbl_short',
    `/d/bbk_${randomBytes(32).toString('base64url')}`,
    `/d/${'a'.repeat(300)}`,
  ]) {
    const response = await follow(app.url + path, { ip });
    assert.equal(response.status, 404, path);
    assert.equal(response.headers.get('cache-control'), 'no-store');
  }
});

test("another resource's backup cannot get a link, and its links cannot be listed or revoked", async () => {
  const ip = clientIp();
  const theirs = await createLink(other);
  const asTenant = { browser: tenant.admin, csrf: tenant.adminCsrf };
  const create = await api('POST', `/backups/${other.backup.id}/links`, { ...asTenant, body: {} });
  assert.equal(create.status, 404);
  assert.equal(((await create.json()) as { code: string }).code, 'not_found');
  assert.equal((await api('GET', `/backups/${other.backup.id}/links`, asTenant)).status, 404);
  assert.equal((await api('DELETE', `/links/${theirs.id}`, asTenant)).status, 404);
  assert.equal((await api('DELETE', '/links/not-a-uuid', asTenant)).status, 404);
  assert.equal((await api('POST', '/backups/not-a-uuid/links', { ...asTenant, body: {} })).status, 404);
  assert.equal((await follow(theirs.url, { ip, method: 'HEAD' })).status, 200, 'their link is untouched');
  const count = await db.query(
    'select count(*)::int as n from download_links where backup_id = $1 and resource_id = $2',
    [other.backup.id, tenant.uuid],
  );
  assert.equal(count.rows[0].n, 0);
});

test('a backup that is not completed and verified gets no link', async () => {
  const failed = await pendingBackupRow(db, tenant.uuid);
  await forceFailed(db, failed.id, { kind: 'dump_failed', reason: 'test' });
  const pending = await pendingBackupRow(db, tenant.uuid);
  for (const [backup, state] of [
    [failed, 'failed'],
    [pending, 'pending'],
  ] as const) {
    const response = await api('POST', `/backups/${backup.id}/links`, {
      browser: tenant.admin,
      csrf: tenant.adminCsrf,
      body: {},
    });
    assert.equal(response.status, 409, state);
    const problem = (await response.json()) as { code: string; message: string };
    assert.equal(problem.code, 'backup_not_downloadable');
    assert.match(problem.message, new RegExp(`${backup.name} is ${state}; only completed, verified backups`));
  }
  assert.equal(
    (
      await db.query('select count(*)::int as n from download_links where backup_id = any($1)', [
        [failed.id, pending.id],
      ])
    ).rows[0].n,
    0,
  );
  await db.query('delete from backups where id = any($1)', [[failed.id, pending.id]]);
});

test('a link stops working when its backup is no longer verified', async () => {
  const ip = clientIp();
  const link = await createLink(tenant);
  await setVerifiedAt(db, tenant.backup.id, null);
  try {
    const response = await follow(link.url, { ip });
    assert.equal(response.status, 410);
    assert.equal(response.headers.get('content-disposition'), null);
  } finally {
    await setVerifiedAt(db, tenant.backup.id, tenant.backup.verifiedAt);
  }
  assert.equal((await follow(link.url, { ip, method: 'HEAD' })).status, 200, 'and works again once it is');
});

test('tokens are stored only as SHA-256 hashes and never reach the logs', async () => {
  const ip = clientIp();
  const link = await createLink(tenant);
  const token = link.url.split('/d/')[1]!;
  await (await follow(link.url, { ip })).arrayBuffer();
  const row = (await db.query('select * from download_links where id = $1', [link.id])).rows[0];
  assert.equal(row.token_hash, sha256(Buffer.from(token)));
  assert.ok(!JSON.stringify(row).includes(token.slice(4)), 'no column holds the token');
  const table = (
    await db.query(`select count(*)::int as n from download_links where position($1 in download_links::text) > 0`, [
      token.slice(4),
    ])
  ).rows[0];
  assert.equal(table.n, 0);
  const audit = (
    await db.query(`select count(*)::int as n from audit_events where position($1 in detail::text) > 0`, [
      token.slice(4),
    ])
  ).rows[0];
  assert.equal(audit.n, 0);
  await eventually(async () => app.logs.text().includes('/d/[redacted]'), { what: 'request log line' });
  assert.ok(!app.logs.text().includes(token.slice(4)), 'the token is not in any log line');
});

test('creating, using and revoking a link are audited with who and from where', async () => {
  const createdFrom = clientIp();
  const usedFrom = clientIp();
  const revokedFrom = clientIp();
  const link = await createLink(tenant, {}, createdFrom);
  await (await follow(link.url, { ip: usedFrom })).arrayBuffer();
  assert.equal(
    (await api('DELETE', `/links/${link.id}`, { browser: tenant.admin, csrf: tenant.adminCsrf, ip: revokedFrom }))
      .status,
    204,
  );
  const rows = (
    await db.query(
      `select action, actor, host(ip) as ip, detail from audit_events where resource_id = $1 and detail->>'linkId' = $2 order by id`,
      [tenant.uuid, link.id],
    )
  ).rows;
  assert.deepEqual(
    rows.map((r) => [r.action, r.ip]),
    [
      ['link.created', createdFrom],
      ['link.used', usedFrom],
      ['link.revoked', revokedFrom],
    ],
  );
  assert.match(rows[0].actor, /^owner-.*@example\.com$/);
  assert.equal(rows[0].detail.backup, 'b001');
  assert.equal(rows[1].actor, `download link ${link.prefix}`);
  assert.equal(rows[1].detail.createdBy, rows[0].actor);
  assert.equal(rows[2].actor, rows[0].actor);
  const stored = (await db.query('select host(created_ip) as ip from download_links where id = $1', [link.id])).rows[0];
  assert.equal(stored.ip, createdFrom);
});

test('more than 60 requests a minute from one address get 429, even with a forged X-Forwarded-For', async () => {
  const ip = clientIp();
  const unknown = `${app.url}/d/bbl_${randomBytes(32).toString('base64url')}`;
  for (let i = 0; i < 60; i++) {
    // What a client sends is kept left of the address Heroku's router appends; only the latter counts.
    const response = await follow(unknown, { ip: `203.0.113.${i}, ${ip}` });
    assert.equal(response.status, 404, `request ${i + 1}`);
  }
  const limited = await follow(unknown, { ip: `198.51.100.1, ${ip}`, headers: { accept: 'application/json' } });
  assert.equal(limited.status, 429);
  assert.equal(((await limited.json()) as { id: string }).id, 'rate_limited');
  assert.ok(Number(limited.headers.get('retry-after')) > 0);
  const link = await createLink(tenant);
  assert.equal((await follow(link.url, { ip })).status, 429, 'a valid link too, from that address');
  assert.equal(
    (await follow(link.url, { ip: clientIp(), method: 'HEAD' })).status,
    200,
    'another address is not limited',
  );
});

test('deprovisioning the add-on kills its links: 410 before and after the purge, which leaves no token rows', async () => {
  const ip = clientIp();
  const doomed = await tenantWithBackup();
  const link = await createLink(doomed);
  const minted = await api('POST', '/tokens', {
    browser: doomed.admin,
    csrf: doomed.adminCsrf,
    body: { name: 'ci', role: 'admin' },
  });
  assert.equal(minted.status, 201);
  const { token } = (await minted.json()) as { token: string };
  assert.equal((await follow(link.url, { ip, method: 'HEAD' })).status, 200);
  assert.equal((await sim.deprovision(doomed.uuid)).result, 'deprovisioned');
  assert.equal((await follow(link.url, { ip })).status, 410, 'deprovisioned, not purged yet');
  await eventually(
    async () =>
      (await db.query('select purged_at from resources where id = $1', [doomed.uuid])).rows[0].purged_at !== null,
    { timeoutMs: 30_000, what: 'purge to finish' },
  );
  const rows = async (table: string) =>
    (await db.query(`select count(*)::int as n from ${table} where resource_id = $1`, [doomed.uuid])).rows[0].n;
  assert.equal(await rows('download_links'), 0, 'no link rows');
  assert.equal(await rows('api_tokens'), 0, 'no API token rows');
  for (const method of ['GET', 'HEAD']) {
    const response = await follow(link.url, { ip, method });
    assert.equal(response.status, 410, `${method} after the purge, while the tombstone exists`);
  }
  const gone = await follow(link.url, { ip });
  assert.match(await gone.text(), /removed/);
  assert.equal((await api('GET', '/backups', { token, ip })).status, 401, 'the API token no longer works');
  const unknown = `${link.url.slice(0, link.url.lastIndexOf('/') + 1)}bbl_${randomBytes(32).toString('base64url')}`;
  assert.equal((await follow(unknown, { ip })).status, 404, 'a token never issued is still 404');
});

// On S3 (s3Stack, started above) a link redirects to a presigned GET.
test('on S3 a link 302s to a presigned GET of at most five minutes that downloads as an attachment', async () => {
  const ip = clientIp();
  const link = await createLink(s3Tenant, {}, ip, s3Stack.app.url);
  const response = await follow(link.url, { ip });
  assert.equal(response.status, 302);
  assert.equal(response.headers.get('cache-control'), 'no-store');
  assert.equal(response.headers.get('referrer-policy'), 'no-referrer');
  const location = new URL(response.headers.get('location')!);
  assert.equal(location.origin, new URL(s3.endpoint).origin);
  const expires = Number(location.searchParams.get('X-Amz-Expires'));
  assert.ok(expires > 0 && expires <= 300, `presigned for ${expires} s`);
  assert.match(location.searchParams.get('response-content-disposition') ?? '', /^attachment; filename="/);

  const download = await fetch(location);
  assert.equal(download.status, 200);
  assert.equal(download.headers.get('cache-control'), 'no-store', 'no cache keeps the archive itself');
  const day = s3Tenant.backup.createdAt.toISOString().slice(0, 10).replace(/-/g, '');
  assert.match(
    download.headers.get('content-disposition') ?? '',
    new RegExp(`^attachment; filename="${s3Tenant.appName}-b001-${day}\\.dump"`),
  );
  assert.equal(sha256(Buffer.from(await download.arrayBuffer())), s3Tenant.backup.sha256);
  const ranged = await fetch(location, { headers: { range: 'bytes=10-19' } });
  assert.equal(ranged.status, 206, 'S3 serves the resume itself');
  assert.equal((await ranged.arrayBuffer()).byteLength, 10);

  const row = (await s3Stack.app.runtime.pool.query(`select use_count from download_links where id = $1`, [link.id]))
    .rows[0];
  assert.equal(row.use_count, 1);
  const used = (
    await s3Stack.app.runtime.pool.query(
      `select detail from audit_events where action = 'link.used' and detail->>'linkId' = $1`,
      [link.id],
    )
  ).rows[0];
  assert.equal(used.detail.via, 'presigned');
  assert.ok(!s3Stack.app.logs.text().includes('X-Amz-Signature'), 'the presigned URL is not logged');
});

test('a backup awaiting re-verification gets no link, its links stop working, and its page, list and API say so', async () => {
  const flagged = await tenantWithBackup();
  const ip = clientIp();
  const earlier = await createLink(flagged, {}, ip);
  const reason = 'its manifest sidecar is missing from storage';
  assert.equal(await markNeedsReverification(db, flagged.backup.id, reason), true);

  const refused = await api('POST', `/backups/${flagged.backup.id}/links`, {
    browser: flagged.admin,
    csrf: flagged.adminCsrf,
    body: {},
    ip,
  });
  assert.equal(refused.status, 409);
  const problem = (await refused.json()) as { code: string; message: string };
  assert.equal(problem.code, 'backup_not_downloadable');
  assert.match(problem.message, /awaits re-verification/);
  assert.equal(
    (await db.query('select count(*)::int as n from download_links where backup_id = $1', [flagged.backup.id])).rows[0]
      .n,
    1,
    'only the link made before the flag',
  );
  const followed = await follow(earlier.url, { ip });
  assert.equal(followed.status, 410);
  assert.equal(followed.headers.get('content-disposition'), null);

  const shown = (await (await api('GET', `/backups/${flagged.backup.id}`, { browser: flagged.admin, ip })).json()) as {
    downloadable: boolean;
    needs_reverification: { since: string; reason: string } | null;
  };
  assert.equal(shown.downloadable, false);
  assert.equal(shown.needs_reverification?.reason, reason);
  assert.ok(Date.parse(shown.needs_reverification.since) > Date.now() - 60_000);
  const plain = (await (await api('GET', `/backups/${tenant.backup.id}`, { browser: tenant.admin, ip })).json()) as {
    needs_reverification: unknown;
  };
  assert.equal(plain.needs_reverification, null);
  const listed = (await (await api('GET', '/backups', { browser: flagged.admin, ip })).json()) as {
    freshness: { newest_verified_at: string | null };
  };
  assert.equal(listed.freshness.newest_verified_at, null, 'a flagged backup is not the newest verified one');

  const page = await (await flagged.admin.request('GET', `/backups/${flagged.backup.id}`)).text();
  assert.match(page, /id="needs-reverification"[^>]*>[^<]*<strong>Awaiting re-verification/);
  assert.ok(page.includes(reason), 'the page gives the reason');
  assert.ok(!page.includes('id="restore"'), 'and offers no download');
  const list = await (await flagged.admin.request('GET', '/dashboard')).text();
  assert.match(
    list,
    /data-state="completed"[^>]*>[^<]*<\/span>\s*<span class="badge badge-reverify"[^>]*>awaiting re-verification/,
  );
});

test('a link does not serve an archive whose manifest is lost, even before the janitor marks it, though its size matches', async () => {
  const unsealed = await tenantWithBackup();
  const ip = clientIp();
  const link = await createLink(unsealed, {}, ip);
  const root = fileURLToPath(app.config.STORAGE_URL!);
  await rm(path.join(root, ...unsealed.backup.objectKey!.split('/')) + MANIFEST_SUFFIX);
  for (const method of ['GET', 'HEAD']) {
    const response = await follow(link.url, { ip, method });
    assert.equal(response.status, 410, method);
    assert.equal(response.headers.get('content-disposition'), null, method);
  }
});
