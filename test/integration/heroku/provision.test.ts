import test, { describe } from 'node:test';
import assert from 'node:assert/strict';
import { startTestApp, type TestApp } from '../../support/app.ts';
import { callProvider, provisionBody } from '../../support/addon-manager.ts';
import { setSchedule } from '../../../src/backups/schedules.service.ts';

// Started at the top level: `after` hooks registered from here run when the whole file ends.
const app: TestApp = await startTestApp();
const auth = `big-backup:${app.config.HEROKU_ADDON_PASSWORD}`;
const base = () => `${app.url}/heroku/resources`;

const countRows = async (table: string, id: string) =>
  Number(
    (
      await app.runtime.pool.query(
        `select count(*) from ${table} where ${table === 'resources' ? 'id' : 'resource_id'} = $1`,
        [id],
      )
    ).rows[0].count,
  );

describe('Basic auth', () => {
  for (const [label, credentials] of [
    ['no', null],
    ['wrong', 'wrong:secret'],
    ['right id, wrong password', 'big-backup:nope'],
    ['wrong id', 'other-addon:PASSWORD'],
  ] as const) {
    test(`refuses provision, plan change and deprovision with ${label} credentials as JSON 401`, async () => {
      const creds = credentials?.replace('PASSWORD', app.config.HEROKU_ADDON_PASSWORD) ?? null;
      const body = provisionBody();
      for (const [method, path, payload] of [
        ['POST', base(), body],
        ['PUT', `${base()}/${body.uuid}`, { plan: 'standard' }],
        ['DELETE', `${base()}/${body.uuid}`, undefined],
      ] as const) {
        const answer = await callProvider(path, method, '', { auth: creds, ...(payload ? { body: payload } : {}) });
        assert.equal(answer.status, 401, `${method} ${label}`);
        assert.match(answer.contentType ?? '', /application\/json/);
      }
      assert.equal(await countRows('resources', body.uuid), 0);
    });
  }
});

describe('provision', () => {
  test('answers 200 with id equal to the uuid, a BIG_BACKUP_URL and a message', async () => {
    const body = provisionBody();
    const answer = await callProvider(base(), 'POST', '', { auth, body });
    assert.equal(answer.status, 200);
    const json = answer.body as { id: string; config: Record<string, string>; message: string };
    assert.equal(json.id, body.uuid);
    assert.deepEqual(Object.keys(json.config), ['BIG_BACKUP_URL']);
    assert.equal(new URL(json.config.BIG_BACKUP_URL!).origin, new URL(app.config.PUBLIC_URL).origin);
    assert.ok(json.message.length > 0);
  });

  test('accepts fields it does not know', async () => {
    const body = provisionBody({ some_future_field: { nested: true }, heroku_id: 'app123@heroku.com' });
    const answer = await callProvider(base(), 'POST', '', { auth, body });
    assert.equal(answer.status, 200);
  });

  test('returns the same resource when Heroku retries a provision', async () => {
    const body = provisionBody();
    const first = await callProvider(base(), 'POST', '', { auth, body });
    const second = await callProvider(base(), 'POST', '', { auth, body });
    assert.equal(first.status, 200);
    assert.deepEqual(second, first);
    assert.equal(await countRows('resources', body.uuid), 1);
  });

  test('creates one resource when the same provision arrives many times at once', async () => {
    const body = provisionBody();
    const answers = await Promise.all(
      Array.from({ length: 8 }, () => callProvider(base(), 'POST', '', { auth, body })),
    );
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.equal(answers[0]!.status, 200);
    assert.equal(await countRows('resources', body.uuid), 1);
    assert.equal(await countRows('heroku_authorizations', body.uuid), 1);
    const jobs = await app.runtime.pool.query(
      `select count(*) from pgboss.job where name = 'heroku-exchange-grant' and data->>'resourceId' = $1`,
      [body.uuid],
    );
    assert.equal(Number(jobs.rows[0].count), 1, 'one grant exchange job');
  });

  test('gives distinct ids to distinct uuids', async () => {
    const a = await callProvider(base(), 'POST', '', { auth, body: provisionBody() });
    const b = await callProvider(base(), 'POST', '', { auth, body: provisionBody() });
    assert.notEqual((a.body as { id: string }).id, (b.body as { id: string }).id);
  });

  test('stores the database option as an attachment name', async () => {
    for (const [given, stored] of [
      [undefined, 'DATABASE'],
      ['HEROKU_POSTGRESQL_RED', 'HEROKU_POSTGRESQL_RED'],
      ['heroku-postgresql-red_url', 'HEROKU_POSTGRESQL_RED'],
    ] as const) {
      const body = provisionBody({ options: given ? { database: given, other: 'true' } : {} });
      assert.equal((await callProvider(base(), 'POST', '', { auth, body })).status, 200);
      const row = await app.runtime.pool.query('select database_attachment, options from resources where id = $1', [
        body.uuid,
      ]);
      assert.equal(row.rows[0].database_attachment, stored);
    }
  });

  test('keeps the grant code only as ciphertext', async () => {
    const body = provisionBody();
    await callProvider(base(), 'POST', '', { auth, body });
    const code = (body.oauth_grant as { code: string }).code;
    const dump = await app.runtime.pool.query(
      `select row_to_json(a)::text as row from heroku_authorizations a where resource_id = $1`,
      [body.uuid],
    );
    assert.ok(!dump.rows[0].row.includes(code), 'grant code not stored in plaintext');
    const jobs = await app.runtime.pool.query(`select data::text from pgboss.job where data->>'resourceId' = $1`, [
      body.uuid,
    ]);
    for (const job of jobs.rows) assert.ok(!job.data.includes(code), 'grant code not in job payloads');
  });

  for (const [label, change, pattern] of [
    ['an unknown plan', { plan: 'gigantic' }, /no plan named "gigantic"/],
    [
      'an unsupported region',
      { region: 'amazon-web-services::ap-northeast-1' },
      /not available in region amazon-web-services::ap-northeast-1/,
    ],
    ['a missing uuid', { uuid: undefined }, /uuid/],
    ['a malformed uuid', { uuid: 'not-a-uuid' }, /uuid must be a UUID/],
    ['a missing plan', { plan: undefined }, /plan is required/],
    [
      'a database option that is not an attachment name',
      { options: { database: 'postgres://u:p@h/db' } },
      /must name an attachment/,
    ],
  ] as const) {
    test(`refuses ${label} with 422 and a readable message`, async () => {
      const body = { ...provisionBody(), ...change };
      const answer = await callProvider(base(), 'POST', '', { auth, body });
      assert.equal(answer.status, 422);
      assert.match((answer.body as { message: string }).message, pattern);
      if (typeof body.uuid === 'string') assert.equal(await countRows('resources', body.uuid).catch(() => 0), 0);
    });
  }

  test('refuses a body that is not JSON with 422 in JSON', async () => {
    const answer = await callProvider(base(), 'POST', '', { auth, rawBody: '{"uuid": ' });
    assert.equal(answer.status, 422);
    assert.match((answer.body as { message: string }).message, /not valid JSON/);
  });
});

describe('plan change', () => {
  test('moves a resource to another plan and answers 200, idempotently', async () => {
    const body = provisionBody();
    await callProvider(base(), 'POST', '', { auth, body });
    for (let i = 0; i < 2; i++) {
      const answer = await callProvider(`${base()}/${body.uuid}`, 'PUT', '', {
        auth,
        body: { plan: 'premium', heroku_id: 'x' },
      });
      assert.equal(answer.status, 200);
      assert.match((answer.body as { message: string }).message, /Premium/);
    }
    const row = await app.runtime.pool.query('select plan from resources where id = $1', [body.uuid]);
    assert.equal(row.rows[0].plan, 'premium');
  });

  test('refuses a plan too small for the database it backs up, saying why', async () => {
    const body = provisionBody({ plan: 'premium' });
    await callProvider(base(), 'POST', '', { auth, body });
    await app.runtime.pool.query('update resources set largest_database_bytes = $2 where id = $1', [body.uuid, 812e9]);
    const answer = await callProvider(`${base()}/${body.uuid}`, 'PUT', '', { auth, body: { plan: 'basic' } });
    assert.equal(answer.status, 422);
    assert.match((answer.body as { message: string }).message, /812 GB.*up to 250 GB/);
    const row = await app.runtime.pool.query('select plan from resources where id = $1', [body.uuid]);
    assert.equal(row.rows[0].plan, 'premium');
  });

  test('refuses a plan without hourly backups while backups are scheduled hourly, until the schedule is daily', async () => {
    const body = provisionBody({ plan: 'standard' });
    await callProvider(base(), 'POST', '', { auth, body });
    const deps = { pool: app.runtime.pool, boss: app.boss };
    await setSchedule(deps, body.uuid, { frequency: 'hourly', minute: 5, timeZone: 'UTC' }, 'test');
    const refused = await callProvider(`${base()}/${body.uuid}`, 'PUT', '', { auth, body: { plan: 'basic' } });
    assert.equal(refused.status, 422);
    assert.match(
      (refused.body as { message: string }).message,
      /scheduled hourly, which the Basic plan does not offer; change the schedule to daily first/,
    );
    assert.equal(
      (await app.runtime.pool.query('select plan from resources where id = $1', [body.uuid])).rows[0].plan,
      'standard',
    );

    await setSchedule(deps, body.uuid, { frequency: 'daily', hour: 3, minute: 5, timeZone: 'UTC' }, 'test');
    assert.equal(
      (await callProvider(`${base()}/${body.uuid}`, 'PUT', '', { auth, body: { plan: 'basic' } })).status,
      200,
    );
    await assert.rejects(setSchedule(deps, body.uuid, { frequency: 'hourly', minute: 5, timeZone: 'UTC' }, 'test'), {
      status: 422,
    });
  });

  test('refuses an unknown plan with 422 and an unknown resource with 404', async () => {
    const body = provisionBody();
    await callProvider(base(), 'POST', '', { auth, body });
    assert.equal(
      (await callProvider(`${base()}/${body.uuid}`, 'PUT', '', { auth, body: { plan: 'nope' } })).status,
      422,
    );
    assert.equal(
      (await callProvider(`${base()}/${provisionBody().uuid}`, 'PUT', '', { auth, body: { plan: 'basic' } })).status,
      404,
    );
  });
});

describe('deprovision', () => {
  test('answers 204, again 204 on a retry, and sends one purge', async () => {
    const body = provisionBody();
    await callProvider(base(), 'POST', '', { auth, body });
    const first = await callProvider(`${base()}/${body.uuid}`, 'DELETE', '', { auth });
    const second = await callProvider(`${base()}/${body.uuid}`, 'DELETE', '', { auth });
    assert.equal(first.status, 204);
    assert.equal(second.status, 204);
    const row = await app.runtime.pool.query('select state from resources where id = $1', [body.uuid]);
    assert.equal(row.rows[0].state, 'deprovisioned');
    const jobs = await app.runtime.pool.query(
      `select count(*) from pgboss.job where name = 'resource-purge' and data->>'resourceId' = $1`,
      [body.uuid],
    );
    assert.equal(Number(jobs.rows[0].count), 1);
  });

  test('answers 410 in JSON for a uuid it never saw', async () => {
    const answer = await callProvider(`${base()}/${provisionBody().uuid}`, 'DELETE', '', { auth });
    assert.equal(answer.status, 410);
    assert.ok((answer.body as { message: string }).message);
  });

  test('refuses to provision a deprovisioned uuid again', async () => {
    const body = provisionBody();
    await callProvider(base(), 'POST', '', { auth, body });
    await callProvider(`${base()}/${body.uuid}`, 'DELETE', '', { auth });
    const again = await callProvider(base(), 'POST', '', { auth, body });
    assert.equal(again.status, 422);
  });

  test('refuses a plan change after deprovision', async () => {
    const body = provisionBody();
    await callProvider(base(), 'POST', '', { auth, body });
    await callProvider(`${base()}/${body.uuid}`, 'DELETE', '', { auth });
    assert.equal(
      (await callProvider(`${base()}/${body.uuid}`, 'PUT', '', { auth, body: { plan: 'premium' } })).status,
      422,
    );
  });
});

test('never writes the add-on password or grant codes to the logs', async () => {
  const body = provisionBody();
  await callProvider(base(), 'POST', '', { auth, body });
  const logs = app.logs.text();
  assert.ok(logs.length > 0);
  assert.ok(!logs.includes(app.config.HEROKU_ADDON_PASSWORD));
  assert.ok(!logs.includes((body.oauth_grant as { code: string }).code));
  assert.ok(!/Basic [A-Za-z0-9+/=]{8,}/.test(logs));
});
