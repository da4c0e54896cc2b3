import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DeleteObjectCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListMultipartUploadsCommand,
  PutBucketVersioningCommand,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { startStack, Browser, apiCall, type Stack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { startS3Server } from '../../support/s3-server.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';

// Purge completeness (trust.md scenario 35, issue 13): after a deprovision and its purge job, no table
// of ours nor of pg-boss's holds anything that belonged to the resource (its ids, ciphertexts, token
// hashes, people, logs), and the store holds nothing under its prefix; only the tombstone remains: the
// resource row, and the digests of its links' tokens that make them answer 410.
//
// pg-boss's schema is scanned too: a job row whose payload names the resource or one of its backups
// outlives the purge by pg-boss's retention (days), which is a leak of its own.

const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await seedSourceDatabase(server, 'shop');

/** Everything a resource leaves in our database while it lives: a backup, a link, a token, a session, settings. */
async function busyTenant(on: Stack): Promise<{ uuid: string; linkUrl: string }> {
  const pool = on.app.runtime.pool;
  const { uuid } = await on.sim.provision({ plan: 'standard' });
  await eventually(
    async () => (await pool.query('select app_name from resources where id = $1', [uuid])).rows[0]?.app_name,
    { what: 'the OAuth grant exchanged', timeoutMs: 30_000 },
  );
  await setDirectSource(pool, on.app.runtime.secrets, uuid, sourceUrl, 'owner@example.com');
  const requested = await requestBackup({ pool, boss: on.app.boss }, uuid, {
    trigger: 'manual',
    requestedBy: 'owner@example.com',
  });
  const backup = await eventually(
    async () => {
      const b = await findBackup(pool, requested!.id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs: 60_000, what: 'backup to finish' },
  );
  assert.equal(backup.state, 'completed', `${backup.failureKind}: ${backup.failureReason}`);
  const admin = new Browser(on.app.url);
  assert.equal(
    (await admin.signIn(on.sim.ssoForm(uuid, { user: `owner-${uuid.slice(0, 8)}@example.com` }))).status,
    303,
  );
  const csrf = await admin.csrfToken();
  const link = await apiCall(on.app.url, 'POST', `/backups/${backup.id}/links`, { browser: admin, csrf, body: {} });
  assert.equal(link.status, 201);
  const token = await apiCall(on.app.url, 'POST', '/tokens', {
    browser: admin,
    csrf,
    body: { name: 'ci', role: 'admin' },
  });
  assert.equal(token.status, 201);
  const schedule = await apiCall(on.app.url, 'PUT', '/schedule', {
    browser: admin,
    csrf,
    body: { frequency: 'daily', hour: 3, minute: 0, timeZone: 'Europe/Berlin' },
  });
  assert.ok(schedule.status < 300, `schedule set: ${await schedule.clone().text()}`);
  return { uuid, linkUrl: ((await link.json()) as { url: string }).url };
}

interface Row {
  table: string;
  text: string;
  values: string[];
}

/** Every row of every table in our schema and pg-boss's, as JSON text and its string leaves. */
async function everyRow(on: Stack): Promise<Row[]> {
  const pool = on.app.runtime.pool;
  const tables = (
    await pool.query<{ schema: string; name: string }>(
      `select table_schema as schema, table_name as name from information_schema.tables
        where table_type = 'BASE TABLE' and table_schema in ('public', 'pgboss')
          -- a partition's rows are read through its parent
          and not exists (select 1 from pg_inherits i where i.inhrelid = format('%I.%I', table_schema, table_name)::regclass)
        order by 1, 2`,
    )
  ).rows;
  assert.ok(
    tables.some((t) => t.schema === 'pgboss'),
    "pg-boss's tables are scanned",
  );
  const rows: Row[] = [];
  for (const { schema, name } of tables) {
    const result = await pool.query<{ r: unknown }>(`select row_to_json(t) as r from "${schema}"."${name}" t`);
    for (const { r } of result.rows)
      rows.push({ table: `${schema}.${name}`, text: JSON.stringify(r), values: leaves(r) });
  }
  return rows;
}

/** String leaves of a row (json columns included), bytea as its hex digits. */
function leaves(value: unknown): string[] {
  if (typeof value === 'string') {
    const s = value.startsWith('\\x') ? value.slice(2) : value;
    try {
      const parsed: unknown = JSON.parse(s);
      if (parsed && typeof parsed === 'object') return leaves(parsed);
    } catch {
      // not JSON text
    }
    return [s];
  }
  if (value && typeof value === 'object') return Object.values(value).flatMap(leaves);
  return [];
}

/**
 * What belongs to the resource: values of every row of ours that names it, or names a row that does (three
 * rounds). pg-boss's rows are scanned, not harvested: their queue names are no customer's.
 */
function needlesOf(rows: Row[], resourceId: string): Set<string> {
  const needles = new Set([resourceId]);
  for (let round = 0; round < 3; round++)
    for (const row of rows.filter((r) => r.table.startsWith('public.')))
      if ([...needles].some((n) => row.text.includes(n)))
        for (const v of row.values) if (v.length >= 16 && !/^\d{4}-\d\d-\d\dT/.test(v)) needles.add(v);
  return needles;
}

/**
 * The tombstone: the resource row, its links' token digests (so they answer 410), its Heroku
 * authorization row emptied of every token (status revoked), and the purge job itself, still active
 * while it ran, which names nothing but the resource id.
 */
const isTombstone = (resourceId: string) => (row: Row) => {
  const r = JSON.parse(row.text) as Record<string, unknown>;
  if (row.table === 'public.resources') return r.id === resourceId;
  if (row.table === 'public.purged_download_links') return r.resource_id === resourceId;
  if (row.table === 'public.heroku_authorizations')
    return (
      r.resource_id === resourceId &&
      Object.entries(r).every(([column, value]) => !column.endsWith('_ciphertext') || value === null)
    );
  if (row.table.startsWith('pgboss.job'))
    return r.name === 'resource-purge' && JSON.stringify(r.data) === JSON.stringify({ resourceId });
  return false;
};

async function deprovisionAndPurge(on: Stack, uuid: string): Promise<void> {
  assert.equal((await on.sim.deprovision(uuid)).result, 'deprovisioned');
  await eventually(
    async () =>
      (await on.app.runtime.pool.query('select purged_at from resources where id = $1', [uuid])).rows[0].purged_at !==
      null,
    { timeoutMs: 60_000, what: 'purge to finish' },
  );
}

async function assertNothingLeftInDatabase(on: Stack, uuid: string, before: Row[]): Promise<void> {
  const needles = needlesOf(before, uuid);
  const secretish = [...needles].filter((n) => n !== uuid);
  assert.ok(needles.size > 20, `collected ${needles.size} values of the resource`);
  // The things the brief names: ciphertexts and token hashes were among them.
  const table = (name: string) => before.filter((r) => r.table === name && r.text.includes(uuid));
  for (const name of ['public.api_tokens', 'public.backup_sources', 'public.heroku_authorizations', 'public.sessions'])
    assert.ok(table(name).length > 0, `${name} held rows of the resource before the purge`);
  const left = (await everyRow(on))
    .filter((row) => !isTombstone(uuid)(row))
    .flatMap((row) =>
      [...needles]
        .filter((n) => row.text.includes(n))
        .map((n) => `${row.table}: ${n.slice(0, 40)} in ${row.text.slice(0, 300)}`),
    );
  assert.deepEqual(left, [], `nothing of the resource's ${secretish.length + 1} values remains outside the tombstone`);
}

const s3 = await startS3Server();
after(() => s3.close());
const onDisk = await startStack();
const onS3 = await startStack({ env: { STORAGE_URL: s3.url('archives'), ...s3.env } });
// A bucket that keeps versions; the test server emulates S3 versioning (s3rver has none). Every stack
// starts before the first test: see test/unit/test-file-setup.test.ts.
const versionedS3 = await startS3Server('big-backup-versioned', { versioning: true });
after(() => versionedS3.close());
await versionedS3
  .client()
  .send(new PutBucketVersioningCommand({ Bucket: versionedS3.bucket, VersioningConfiguration: { Status: 'Enabled' } }));
const onVersionedS3 = await startStack({ env: { STORAGE_URL: versionedS3.url('archives'), ...versionedS3.env } });

test('on disk: after the purge no table holds anything of the resource, and its folder is empty', async () => {
  const on = onDisk;
  const { uuid } = await busyTenant(on);
  const before = await everyRow(on);
  await deprovisionAndPurge(on, uuid);
  await assertNothingLeftInDatabase(on, uuid, before);
  const root = fileURLToPath(on.app.config.STORAGE_URL!);
  const files = (await readdir(root, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
  assert.deepEqual(
    files.filter((f) => f.includes(uuid)),
    [],
  );
});

test('on S3: after the purge no table holds anything of the resource, and the bucket has nothing under its prefix', async () => {
  const on = onS3;
  const { uuid } = await busyTenant(on);
  const client = s3.client();
  const keys = async () =>
    ((await client.send(new ListObjectsV2Command({ Bucket: s3.bucket }))).Contents ?? [])
      .map((o) => o.Key!)
      .filter((k) => k.includes(uuid));
  assert.ok((await keys()).length > 0, 'the archive was stored under the prefix');
  const before = await everyRow(on);
  await deprovisionAndPurge(on, uuid);
  await assertNothingLeftInDatabase(on, uuid, before);
  assert.deepEqual(await keys(), []);
  const uploads = (await client.send(new ListMultipartUploadsCommand({ Bucket: s3.bucket }))).Uploads ?? [];
  assert.deepEqual(
    uploads.filter((u) => u.Key?.includes(uuid)),
    [],
  );
  // Versions, where a bucket keeps them, must be gone too. This test server has no versioning and says
  // so (s3rver answers MethodNotAllowed), so it keeps none; any other error fails this check. The purge
  // fell back to plain deletes, and said so.
  assert.match(on.app.logs.text(), /cannot list object versions: deleted current objects only/);
  const versions = await client.send(new ListObjectVersionsCommand({ Bucket: s3.bucket })).then(
    (listed) => [...(listed.Versions ?? []), ...(listed.DeleteMarkers ?? [])].map((v) => v.Key!),
    (error: Error) => {
      assert.ok(['MethodNotAllowed', 'NotImplemented'].includes(error.name), `listing versions: ${error.name}`);
      return [] as string[];
    },
  );
  assert.deepEqual(
    versions.filter((k) => k.includes(uuid)),
    [],
  );
});

// On a bucket that keeps versions, deleting an object only hides it behind a delete marker: the archive
// would stay in the bucket, billed and readable by version id. The purge must remove every version and
// marker under the resource's prefix (onVersionedS3, started above with the other stacks).
test('on a versioned S3 bucket: after the purge no version or delete marker is left under its prefix', async () => {
  const on = onVersionedS3;
  const { uuid } = await busyTenant(on);
  const client = versionedS3.client();
  const prefix = `archives/tenants/${uuid}/`;
  const versionsLeft = async () => {
    const listed = await client.send(new ListObjectVersionsCommand({ Bucket: versionedS3.bucket, Prefix: prefix }));
    return [
      ...(listed.Versions ?? []).map((v) => `version ${v.Key} ${v.VersionId}`),
      ...(listed.DeleteMarkers ?? []).map((m) => `delete marker ${m.Key} ${m.VersionId}`),
    ];
  };
  // Older versions and a delete marker, as a rewritten key and a removed leftover leave them.
  const leftover = `${prefix}leftover.dump`;
  for (const body of ['first', 'second'])
    await client.send(new PutObjectCommand({ Bucket: versionedS3.bucket, Key: leftover, Body: body }));
  await client.send(new DeleteObjectCommand({ Bucket: versionedS3.bucket, Key: leftover }));
  const stored = await versionsLeft();
  assert.ok(
    stored.some((v) => v.startsWith('delete marker')),
    'a delete marker was stored',
  );
  assert.ok(
    stored.filter((v) => v.includes('.dump')).length >= 3,
    `archives and older versions stored: ${stored.join(', ')}`,
  );
  const before = await everyRow(on);
  await deprovisionAndPurge(on, uuid);
  await assertNothingLeftInDatabase(on, uuid, before);
  assert.deepEqual(await versionsLeft(), []);
});
