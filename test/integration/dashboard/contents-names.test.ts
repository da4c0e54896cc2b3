import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startStack, Browser, apiCall } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startSourceServer, createDatabase } from '../../support/seed-source.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';

// The contents of a real archive of a database whose names hold spaces, dots, quotes and non-ASCII:
// pg_restore --list prints `schema name owner` joined by spaces, which cannot be split back.
const { app, sim } = await startStack();
const db = app.runtime.pool;
const server = await startSourceServer();
after(() => server.stop());
const sourceUrl = await createDatabase(server, 'names');
{
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  await client.query(`
    create schema "Ünïcode Schema";
    create table "Ünïcode Schema"."Tabelle mit Leerzeichen" (id int primary key);
    insert into "Ünïcode Schema"."Tabelle mit Leerzeichen" values (1);
    create table public."a.b" (id int);
    insert into public."a.b" values (1);
    create table public."say ""hi"" there" (id int);
    create schema "x.y z";
    create table "x.y z"."q ""r"" s.t" (id int);
    create table public.parent (id int) partition by range (id);
    create table public.child partition of public.parent for values from (0) to (10);
    insert into public.parent values (5);
  `);
  await client.end();
}

test('names holding spaces, dots and quotes show as their schema and name, in the API and on the page', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, { trigger: 'manual', requestedBy: 'x' });
  const done = await eventually(
    async () => {
      const b = await findBackup(db, requested!.id);
      return b && ['completed', 'failed', 'canceled'].includes(b.state) ? b : undefined;
    },
    { timeoutMs: 60_000, what: 'the backup to settle' },
  );
  assert.equal(done.state, 'completed', `${done.failureKind}: ${done.failureReason}`);

  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(uuid))).status, 303);
  const minted = await apiCall(app.url, 'POST', '/tokens', {
    browser,
    csrf: await browser.csrfToken(),
    body: { name: 'script', role: 'member' },
  });
  const { token } = (await minted.json()) as { token: string };
  const shown = (await (await apiCall(app.url, 'GET', `/backups/${done.id}?contents=1`, { token })).json()) as {
    contents: { entries: Array<{ type: string; schema: string | null; name: string; hasData?: boolean }> };
    verification: { table_count: number };
  };
  const tables = shown.contents.entries.filter((e) => e.type === 'TABLE');
  assert.deepEqual(
    tables.map((e) => [e.schema, e.name, e.hasData]).sort(),
    [
      ['public', 'a.b', true],
      ['public', 'child', true],
      ['public', 'parent', false],
      ['public', 'say "hi" there', true],
      ['x.y z', 'q "r" s.t', true],
      ['Ünïcode Schema', 'Tabelle mit Leerzeichen', true],
    ].sort(),
  );
  const schemas = shown.contents.entries.filter((e) => e.type === 'SCHEMA').map((e) => e.name);
  assert.deepEqual(schemas.sort(), ['Ünïcode Schema', 'x.y z'].sort());
  const constraint = shown.contents.entries.find((e) => e.type === 'CONSTRAINT');
  assert.deepEqual(
    constraint && [constraint.schema, constraint.name],
    ['Ünïcode Schema', 'Tabelle mit Leerzeichen Tabelle mit Leerzeichen_pkey'],
    'a constraint is named by its table and itself, in its schema',
  );
  assert.equal(shown.verification.table_count, 5, 'tables whose rows the archive holds');

  const page = await (await browser.request('GET', `/backups/${done.id}`)).text();
  assert.match(page, /<td>TABLE<\/td><td>Ünïcode Schema<\/td><td>Tabelle mit Leerzeichen<\/td><td>yes<\/td>/);
  assert.match(page, /<td>TABLE<\/td><td>public<\/td><td>say &#34;hi&#34; there<\/td><td>yes<\/td>/);
  assert.match(page, /<td>TABLE<\/td><td>x.y z<\/td><td>q &#34;r&#34; s.t<\/td><td>yes<\/td>/);
  // Both counts say what they count, and agree: 6 tables, 5 of them with rows in the archive.
  assert.match(page, /3 schemas, 6 tables \(5 with rows in the archive\)/);
  assert.match(page, /digest matched, 5 tables with rows/);
});
