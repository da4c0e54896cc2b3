import test, { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startHerokuSimulator, type HerokuSimulator } from '../../../dev/simulator/index.ts';
import {
  addBigTable,
  fingerprintDatabase,
  seedSourceDatabase,
  startSourceServer,
  type SourceServer,
} from '../../support/seed-source.ts';
import { SECRETS, startContractProvider, type ContractProvider } from './support/contract-provider.ts';

// Simulated Heroku Postgres through the Platform API, against a real throwaway PostgreSQL server:
// forks are real copies (pg_dump | pg_restore), DELETE drops them, and the fault knobs bend the lifecycle.

// Small, yet long enough that the first GET after a POST reliably sees `provisioning` on a loaded machine.
const READY_MS = 200;
const ACCEPT = 'application/vnd.heroku+json; version=3';
const ATTACHMENT = 'BIGBACKUP_FORK_B001';
const CONNECT_CLIENT = 'connect-client';
const CONNECT_SECRET = 'connect-secret';

let server: SourceServer;
let sharedSim: HerokuSimulator;
let sharedProvider: ContractProvider;
// One before/after pair: Node runs a file's top-level hooks concurrently, and the simulator needs the
// server's URL, so useSimulator's separate hook cannot be combined with a server started in another.
before(async () => {
  server = await startSourceServer();
  sharedProvider = await startContractProvider();
  sharedSim = await startSimulator(sharedProvider.baseUrl, sharedProvider.ssoUrl);
  sharedProvider.herokuUrl = sharedSim.url;
});
after(async () => {
  // The simulator drops its databases first, then the server goes.
  await sharedSim?.stop();
  await sharedProvider?.stop();
  await server?.stop();
});
const t = {
  get sim(): HerokuSimulator {
    return sharedSim;
  },
  get provider(): ContractProvider {
    return sharedProvider;
  },
};

/** A simulator whose Heroku Postgres lives on the throwaway server, with forks ready after READY_MS. */
function startSimulator(baseUrl: string, ssoUrl: string): Promise<HerokuSimulator> {
  return startHerokuSimulator({
    addon: { id: SECRETS.addonId, password: SECRETS.password, ssoSalt: SECRETS.ssoSalt, baseUrl, ssoUrl },
    oauthClientSecret: SECRETS.clientSecret,
    oauthClients: [{ id: CONNECT_CLIENT, secret: CONNECT_SECRET }],
    postgres: { adminUrl: server.cluster.url },
    forkReadyAfterMs: READY_MS,
  });
}

interface ApiAnswer {
  status: number;
  body: any;
}

/** Calls the simulator's Platform API as a user (or partner) token would. */
async function api(
  token: string,
  method: string,
  path: string,
  body?: unknown,
  sim: HerokuSimulator = t.sim,
): Promise<ApiAnswer> {
  const res = await fetch(`${sim.url}${path}`, {
    method,
    headers: {
      Accept: ACCEPT,
      Authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : null };
}

/** A user token as `heroku login` + an OAuth client with these scopes would hold. */
function userToken(email: string, scopes: string[] = ['write-protected'], sim: HerokuSimulator = t.sim): string {
  return sim.issueUserToken({ user: email, scopes }).access_token;
}

async function query<T extends pg.QueryResultRow>(url: string, sql: string, params: unknown[] = []): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql, params)).rows;
  } finally {
    await client.end();
  }
}

async function databaseExists(name: string): Promise<boolean> {
  const rows = await query(server.cluster.url, 'select 1 from pg_database where datname = $1', [name]);
  return rows.length === 1;
}

/** One production-like app whose DATABASE_URL is a real database with three rows, and a user collaborating on it. */
interface Source {
  app: string;
  addonId: string;
  url: string;
  databaseName: string;
  user: string;
  token: string;
}

async function makeSource(name: string, opts: { plan?: string; sim?: HerokuSimulator } = {}): Promise<Source> {
  const sim = opts.sim ?? t.sim;
  const databaseName = `src_${name.replace(/-/g, '_')}`;
  await server.run('postgres', `create database ${databaseName}`);
  const url = server.url(databaseName);
  await server.run(
    databaseName,
    `
    create table items (id int primary key, label text not null);
    insert into items values (1, 'one'), (2, 'two'), (3, 'three');`,
  );
  const user = `dev-${name}@example.com`;
  sim.createApp({ name, owner: `owner-${name}@example.com`, collaborators: [user] });
  const addon = sim.attachPostgres(name, { url, plan: opts.plan ?? 'standard-0' });
  return { app: name, addonId: addon.id, url, databaseName, user, token: userToken(user, ['write-protected'], sim) };
}

/** `POST /apps` as the token's user: the scratch app forks go to. */
async function scratchApp(token: string, name: string, sim: HerokuSimulator = t.sim): Promise<string> {
  const res = await api(token, 'POST', '/apps', { name }, sim);
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body.name as string;
}

function forkBody(fork: string, attachment = ATTACHMENT): Record<string, unknown> {
  return { plan: 'heroku-postgresql:standard-0', config: { fork }, attachment: { name: attachment } };
}

/** Polls `GET /apps/{app}/addons/{id}` until the state (or 404) is reached; returns every state seen. */
async function pollUntil(
  token: string,
  app: string,
  id: string,
  until: 'provisioned' | 404,
  timeoutMs = 20_000,
  sim: HerokuSimulator = t.sim,
): Promise<string[]> {
  const seen: string[] = [];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const res = await api(token, 'GET', `/apps/${app}/addons/${id}`, undefined, sim);
    const state = res.status === 200 ? String(res.body.state) : String(res.status);
    if (seen.at(-1) !== state) seen.push(state);
    if (until === 404 ? res.status === 404 : state === until) return seen;
    if (until === 404 && state === 'provisioned')
      assert.fail(`became provisioned while expected to vanish (${seen.join(' → ')})`);
    if (res.status !== 200)
      assert.fail(`GET add-on answered ${res.status} while waiting for ${until}: ${JSON.stringify(res.body)}`);
    if (Date.now() > deadline) assert.fail(`still ${state} after ${timeoutMs} ms waiting for ${until}`);
    await sleep(10);
  }
}

/** Polls for `ms` and returns every state seen (404 as "404"). */
/** A fork made with `token` (default the source owner's) is created, becomes provisioned and is deleted again. */
async function forkRoundTrip(source: Source, scratch: string, token: string = source.token): Promise<void> {
  const created = await api(token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await pollUntil(source.token, scratch, created.body.id, 'provisioned');
  assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}/addons/${created.body.id}`)).status, 200);
}

async function watch(token: string, app: string, id: string, ms: number): Promise<string[]> {
  const seen: string[] = [];
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const res = await api(token, 'GET', `/apps/${app}/addons/${id}`);
    const state = res.status === 200 ? String(res.body.state) : String(res.status);
    if (seen.at(-1) !== state) seen.push(state);
    await sleep(10);
  }
  return seen;
}

function summary(sim: HerokuSimulator, id: string) {
  const found = sim.postgresAddons().find((a) => a.id === id);
  assert.ok(found, `sim.postgresAddons() has no ${id}`);
  return found;
}

/** Holds an ACCESS EXCLUSIVE lock on the source's table until released: pg_dump queues behind it. */
async function lockSourceTable(source: Source): Promise<{ release(): Promise<void> }> {
  const client = new pg.Client({ connectionString: source.url });
  await client.connect();
  await client.query('begin');
  await client.query('lock table items in access exclusive mode');
  let released = false;
  return {
    async release() {
      if (released) return;
      released = true;
      await client.query('rollback').catch(() => {});
      await client.end();
    },
  };
}

/** Waits until pg_dump is connected to the source and waiting for a lock. */
async function waitForBlockedDump(databaseName: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const rows = await query(
      server.cluster.url,
      `select 1 from pg_stat_activity where datname = $1 and application_name = 'pg_dump' and wait_event_type = 'Lock'`,
      [databaseName],
    );
    if (rows.length > 0) return;
    await sleep(5);
  }
  assert.fail(`pg_dump never started reading ${databaseName}`);
}

/** The promise's value, or a failure naming `what` after `ms`. */
async function within<T>(ms: number, promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new assert.AssertionError({ message: `${what} took more than ${ms} ms` })), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits until pg_restore is connected to the fork's database, i.e. the copy is under way. */
async function waitForCopy(databaseName: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    const rows = await query(
      server.cluster.url,
      `select 1 from pg_stat_activity where datname = $1 and application_name = 'pg_restore'`,
      [databaseName],
    );
    if (rows.length > 0) return;
    await sleep(5);
  }
  assert.fail(`no copy into ${databaseName} started`);
}

/** The source has no pg_dump session left (the copy's processes were killed), within a moment. */
async function noCopySessions(databaseName: string): Promise<void> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const rows = await query(
      server.cluster.url,
      `select 1 from pg_stat_activity where datname = $1 and application_name = 'pg_dump'`,
      [databaseName],
    );
    if (rows.length === 0) return;
    if (Date.now() > deadline) assert.fail(`pg_dump is still reading ${databaseName}`);
    await sleep(20);
  }
}

test('creates a fork that is a real copy of the source as it was, then 404 after DELETE and its database is dropped', async () => {
  const { sim } = t;
  const source = await makeSource('fork-source');
  const scratch = await scratchApp(source.token, 'fork-scratch');
  const sourceVars = { ...sim.app(source.app)!.configVars };
  const sourceReleases = sim.releases(source.app);
  const scratchReleases = sim.releases(scratch);

  const postedAt = Date.now();
  const created = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  assert.equal(created.body.state, 'provisioning');
  assert.equal(created.body.plan.name, 'heroku-postgresql:standard-0');
  assert.equal(created.body.addon_service.name, 'heroku-postgresql');
  assert.equal(created.body.app.name, scratch);
  assert.deepEqual(created.body.config_vars, []);
  const id = created.body.id as string;

  const polled = await api(source.token, 'GET', `/apps/${scratch}/addons/${id}`);
  assert.equal(polled.body.state, 'provisioning');
  const early = await api(source.token, 'GET', `/apps/${scratch}/config-vars`);
  assert.equal(early.status, 200);
  assert.equal(early.body[`${ATTACHMENT}_URL`], undefined, 'no URL while the fork is provisioning');
  // Nothing happens on the server until forkReadyAfterMs has passed.
  const forkDatabase = summary(sim, id).databaseName;
  while (Date.now() - postedAt < READY_MS * 0.75) {
    assert.equal(
      await databaseExists(forkDatabase),
      false,
      `the copy started ${Date.now() - postedAt} ms after the POST`,
    );
    await sleep(10);
  }

  const states = await pollUntil(source.token, scratch, id, 'provisioned');
  assert.ok(
    states.every((state) => ['provisioning', 'provisioned'].includes(state)),
    states.join(' → '),
  );
  assert.ok(Date.now() - postedAt >= READY_MS, 'provisioning lasts at least forkReadyAfterMs');
  const shown = await api(source.token, 'GET', `/apps/${scratch}/addons/${id}`);
  assert.deepEqual(shown.body.config_vars, [`${ATTACHMENT}_URL`]);
  assert.equal(
    sim.releases(scratch),
    scratchReleases + 1,
    'the scratch app gets one release when the fork is attached',
  );

  const vars = await api(source.token, 'GET', `/apps/${scratch}/config-vars`);
  assert.equal(vars.status, 200);
  const forkUrl = vars.body[`${ATTACHMENT}_URL`] as string;
  assert.ok(forkUrl, `config vars: ${Object.keys(vars.body).join(', ')}`);
  assert.notEqual(forkUrl, source.url);
  const fork = summary(sim, id);
  assert.equal(fork.forkOf, source.addonId);
  assert.equal(fork.state, 'provisioned');
  assert.equal(decodeURIComponent(new URL(forkUrl).pathname.slice(1)), fork.databaseName);

  // The fork is a separate database holding the source's rows as they were when it was made.
  await server.run(
    source.databaseName,
    `insert into items values (4, 'after the fork'); update items set label = 'changed' where id = 1`,
  );
  assert.deepEqual(await query(forkUrl, 'select id, label from items order by id'), [
    { id: 1, label: 'one' },
    { id: 2, label: 'two' },
    { id: 3, label: 'three' },
  ]);
  await query(forkUrl, `delete from items where id = 2`);
  assert.equal(
    (await query(source.url, 'select count(*)::int as n from items'))[0]!.n,
    4,
    'writing to the fork leaves the source alone',
  );

  // Forking changed nothing on the source app.
  assert.deepEqual(sim.app(source.app)!.configVars, sourceVars);
  assert.equal(sim.releases(source.app), sourceReleases);
  const sourceView = await api(source.token, 'GET', `/apps/${source.app}/config-vars`);
  assert.deepEqual(sourceView.body, { DATABASE_URL: source.url });

  const deleted = await api(source.token, 'DELETE', `/apps/${scratch}/addons/${id}`);
  assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
  assert.equal((await api(source.token, 'GET', `/apps/${scratch}/addons/${id}`)).status, 404);
  assert.equal(
    (await api(source.token, 'DELETE', `/apps/${scratch}/addons/${id}`)).status,
    404,
    'a second DELETE finds nothing',
  );
  assert.equal(await databaseExists(fork.databaseName), false, 'DELETE drops the database');
  assert.equal(summary(sim, id).state, 'deprovisioned');
  const after = await api(source.token, 'GET', `/apps/${scratch}/config-vars`);
  assert.equal(after.body[`${ATTACHMENT}_URL`], undefined, 'the URL leaves the app');
  assert.equal(sim.releases(scratch), scratchReleases + 2, 'removing a live fork makes one more release');
  assert.equal(await databaseExists(source.databaseName), true, 'the source is never dropped');
  assert.equal(sim.releases(source.app), sourceReleases);
});

test('forks from an APP::DATABASE_URL reference and from the source URL itself', async () => {
  const { sim } = t;
  const source = await makeSource('ref-source');
  const scratch = await scratchApp(source.token, 'ref-scratch');
  const byAttachment = await api(
    source.token,
    'POST',
    `/apps/${scratch}/addons`,
    forkBody(`${source.app}::DATABASE_URL`),
  );
  assert.equal(byAttachment.status, 201, JSON.stringify(byAttachment.body));
  const byUrl = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(source.url, 'SECOND_FORK'));
  assert.equal(byUrl.status, 201, JSON.stringify(byUrl.body));
  for (const res of [byAttachment, byUrl]) {
    await pollUntil(source.token, scratch, res.body.id, 'provisioned');
    assert.equal(summary(sim, res.body.id).forkOf, source.addonId);
  }
  const vars = (await api(source.token, 'GET', `/apps/${scratch}/config-vars`)).body;
  for (const name of [`${ATTACHMENT}_URL`, 'SECOND_FORK_URL']) {
    assert.equal((await query(vars[name], 'select count(*)::int as n from items'))[0]!.n, 3, name);
  }
  for (const res of [byAttachment, byUrl])
    assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}/addons/${res.body.id}`)).status, 200);
});

test('takes only the forms Heroku documents for the source of a fork, and refuses the rest with 422', async () => {
  const { sim } = t;
  const source = await makeSource('forms-source');
  const scratch = await scratchApp(source.token, 'forms-scratch');
  const before = sim.postgresAddons().length;
  // Dev Center, "Forking Your Heroku Postgres Database": the --fork flag takes the config var name of
  // the database on the same app, `appname::HEROKU_POSTGRESQL_COLOR_URL`, or the full database URL.
  for (const fork of [
    source.addonId,
    sim.addon(source.addonId)!.name,
    `${source.app}::DATABASE`,
    `${source.app}::database_url`,
    'DATABASE_URL', // a config var of the scratch app, which has no database
  ]) {
    const res = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(fork, 'UNDOCUMENTED'));
    assert.equal(res.status, 422, `fork ${fork}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.id, 'invalid_params');
  }
  assert.equal(sim.postgresAddons().length, before, 'nothing was created');
  // A config var of the app the fork goes to is documented: the source's own app, for instance.
  const sameApp = await api(source.token, 'POST', `/apps/${source.app}/addons`, forkBody('DATABASE_URL', 'SAME_APP'));
  assert.equal(sameApp.status, 201, JSON.stringify(sameApp.body));
  assert.equal(summary(sim, sameApp.body.id).forkOf, source.addonId);
  assert.equal((await api(source.token, 'DELETE', `/apps/${source.app}/addons/${sameApp.body.id}`)).status, 200);
});

test('a fork of a database with extensions, schemas, non-ASCII names and large objects has the same contents', async () => {
  const { sim } = t;
  const url = await seedSourceDatabase(server, 'src_seeded');
  const user = 'dev-seeded@example.com';
  sim.createApp({ name: 'seeded-source', owner: 'owner-seeded@example.com', collaborators: [user] });
  const source = sim.attachPostgres('seeded-source', { url, plan: 'heroku-postgresql:premium-0', as: 'PRIMARY' });
  const token = userToken(user);
  const scratch = await scratchApp(token, 'seeded-scratch');
  const created = await api(token, 'POST', `/apps/${scratch}/addons`, forkBody('seeded-source::PRIMARY_URL'));
  assert.equal(created.status, 201, JSON.stringify(created.body));
  await pollUntil(token, scratch, created.body.id, 'provisioned');
  assert.equal(summary(sim, created.body.id).forkOf, source.id);
  const forkUrl = (await api(token, 'GET', `/apps/${scratch}/config-vars`)).body[`${ATTACHMENT}_URL`];
  assert.deepEqual(await fingerprintDatabase(forkUrl), await fingerprintDatabase(url));
  assert.equal((await api(token, 'DELETE', `/apps/${scratch}/addons/${created.body.id}`)).status, 200);
});

test('DELETE of a fork whose copy is in flight stops the copy at once and leaves no database behind', async () => {
  const { sim } = t;
  const source = await makeSource('inflight-source');
  const scratch = await scratchApp(source.token, 'inflight-scratch');
  const releases = sim.releases(scratch);
  // pg_dump waits for this lock, so the copy is under way but cannot finish on its own.
  const lock = await lockSourceTable(source);
  let id: string;
  let name: string;
  try {
    const created = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
    assert.equal(created.status, 201);
    id = created.body.id;
    name = summary(sim, id).databaseName;
    await waitForBlockedDump(source.databaseName);
    const deleted = await within(
      5_000,
      api(source.token, 'DELETE', `/apps/${scratch}/addons/${id}`),
      'DELETE of a fork being copied',
    );
    assert.equal(deleted.status, 200, JSON.stringify(deleted.body));
    assert.equal(await databaseExists(name), false);
    assert.equal(summary(sim, id).state, 'deprovisioned');
  } finally {
    await lock.release();
  }
  await noCopySessions(source.databaseName);
  assert.deepEqual(await watch(source.token, scratch, id, READY_MS * 2), ['404']);
  assert.equal(await databaseExists(name), false, 'nothing recreated it');
  assert.equal(sim.releases(scratch), releases, 'the fork never went live');
  assert.equal((await api(source.token, 'GET', `/apps/${scratch}/config-vars`)).body[`${ATTACHMENT}_URL`], undefined);
});

test('DELETE /apps/{app} of the scratch app drops its forks', async () => {
  const { sim } = t;
  const source = await makeSource('appdel-source');
  const scratch = await scratchApp(source.token, 'appdel-scratch');
  const created = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
  await pollUntil(source.token, scratch, created.body.id, 'provisioned');
  const name = summary(sim, created.body.id).databaseName;
  assert.equal(await databaseExists(name), true);
  assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}`)).status, 200);
  assert.equal(await databaseExists(name), false);
  assert.equal((await api(source.token, 'GET', `/apps/${scratch}`)).status, 404);
  assert.equal(await databaseExists(source.databaseName), true);
});

test('a fork whose source is removed while it waits fails: 404, no database, no URL', async () => {
  const { sim } = t;
  const source = await makeSource('removed-source');
  const scratch = await scratchApp(source.token, 'removed-scratch');
  const created = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
  assert.equal(created.status, 201);
  assert.equal((await api(source.token, 'DELETE', `/apps/${source.app}/addons/${source.addonId}`)).status, 200);
  const states = await pollUntil(source.token, scratch, created.body.id, 404);
  assert.ok(
    states.every((state) => ['provisioning', '404'].includes(state)),
    states.join(' → '),
  );
  assert.equal(await databaseExists(summary(sim, created.body.id).databaseName), false);
  assert.equal((await api(source.token, 'GET', `/apps/${source.app}/config-vars`)).body.DATABASE_URL, undefined);
  assert.equal(
    await databaseExists(source.databaseName),
    true,
    'an attached database is never dropped, even on DELETE',
  );
});

test('a fork made while forkNeverReady is set stays provisioning well past forkReadyAfterMs, with no database and no URL', async () => {
  const { sim } = t;
  const source = await makeSource('never-source');
  const scratch = await scratchApp(source.token, 'never-scratch');
  sim.faults.forkNeverReady();
  let id: string;
  try {
    const created = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    id = created.body.id;
  } finally {
    sim.faults.reset();
  }
  assert.deepEqual(await watch(source.token, scratch, id, READY_MS * 5), ['provisioning']);
  assert.equal((await api(source.token, 'GET', `/apps/${scratch}/config-vars`)).body[`${ATTACHMENT}_URL`], undefined);
  assert.equal(await databaseExists(summary(sim, id).databaseName), false);

  // Giving up on it works like any DELETE; after reset() new forks become ready again.
  assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}/addons/${id}`)).status, 200);
  assert.equal((await api(source.token, 'GET', `/apps/${scratch}/addons/${id}`)).status, 404);
  await forkRoundTrip(source, scratch);
});

test('a fork made while deprovisionForksWhileWaiting is set answers 404 before it ever becomes provisioned', async () => {
  const { sim } = t;
  const source = await makeSource('vanish-source');
  const scratch = await scratchApp(source.token, 'vanish-scratch');
  const releases = sim.releases(scratch);
  sim.faults.deprovisionForksWhileWaiting();
  let id: string;
  try {
    const created = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.state, 'provisioning');
    id = created.body.id;
  } finally {
    sim.faults.reset();
  }
  const states = await pollUntil(source.token, scratch, id, 404);
  assert.ok(
    states.every((state) => ['provisioning', '404'].includes(state)),
    states.join(' → '),
  );
  // Nothing becomes of it later either.
  assert.deepEqual(await watch(source.token, scratch, id, READY_MS * 2), ['404']);
  const fork = summary(sim, id);
  assert.equal(fork.state, 'deprovisioned');
  assert.equal(await databaseExists(fork.databaseName), false);
  assert.equal((await api(source.token, 'GET', `/apps/${scratch}/config-vars`)).body[`${ATTACHMENT}_URL`], undefined);
  assert.equal(sim.releases(scratch), releases, 'an add-on that never went live makes no release');
  // The attachment name is free again.
  await forkRoundTrip(source, scratch);
});

test('refuses to fork an essential-0 database with 422', async () => {
  const { sim } = t;
  const source = await makeSource('essential-source', { plan: 'essential-0' });
  const scratch = await scratchApp(source.token, 'essential-scratch');
  const before = sim.postgresAddons().length;
  const res = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`));
  assert.equal(res.status, 422, JSON.stringify(res.body));
  assert.equal(res.body.id, 'invalid_params');
  assert.match(res.body.message, /essential/i);
  assert.equal(sim.postgresAddons().length, before, 'nothing was created');
});

test('refuses partner tokens and user tokens without write-protected with 403, creating nothing', async () => {
  const { sim, provider } = t;
  const source = await makeSource('scope-source');
  const scratch = await scratchApp(source.token, 'scope-scratch');
  const before = sim.postgresAddons().length;

  // The add-on under test, on the source app, holds a partner token.
  const { uuid } = await sim.provision({ app: source.app });
  for (const app of [scratch, source.app]) {
    const partner = await provider.api(uuid, 'POST', `/apps/${app}/addons`, {
      body: forkBody(`${source.app}::DATABASE_URL`),
    });
    assert.equal(partner.status, 403, `partner token on ${app}: ${JSON.stringify(partner.body)}`);
    assert.equal(partner.body.id, 'forbidden');
    assert.match(partner.body.message, /partner/i, 'refused for being a partner token, whatever the app');
  }

  for (const scopes of [['write'], ['read-protected'], ['write', 'read-protected'], ['read']]) {
    const token = userToken(source.user, scopes);
    const res = await api(
      token,
      'POST',
      `/apps/${scratch}/addons`,
      forkBody(`${source.app}::DATABASE_URL`, `NO_${scopes.join('_').replace(/-/g, '_').toUpperCase()}`),
    );
    assert.equal(res.status, 403, `scopes ${scopes.join(' ')}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.id, 'forbidden');
  }
  assert.equal(sim.postgresAddons().length, before, 'nothing was created');

  // The same user with write-protected may; `global` is a superset.
  await forkRoundTrip(source, scratch, userToken(source.user, ['global']));
});

test('refuses with 403 a user who does not collaborate on the source app, however the source is named', async () => {
  const { sim } = t;
  const source = await makeSource('private-source');
  const outsider = userToken('outsider@example.com');
  const scratch = await scratchApp(outsider, 'outsider-scratch');
  const before = sim.postgresAddons().length;
  for (const fork of [`${source.app}::DATABASE_URL`, source.url]) {
    const res = await api(outsider, 'POST', `/apps/${scratch}/addons`, forkBody(fork));
    assert.equal(res.status, 403, `fork ${fork}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body.id, 'forbidden');
  }
  assert.equal(sim.postgresAddons().length, before, 'nothing was created');
  // The outsider may not use the source app either.
  const onSource = await api(outsider, 'POST', `/apps/${source.app}/addons`, forkBody(`${source.app}::DATABASE_URL`));
  assert.equal(onSource.status, 403);
  assert.equal((await api(outsider, 'GET', `/apps/${source.app}/config-vars`)).status, 403);
});

test('refuses with 403, not 422, a non-collaborator forking a database that is still provisioning', async () => {
  const { sim } = t;
  const source = await makeSource('busy-source');
  const scratch = await scratchApp(source.token, 'busy-scratch');
  sim.faults.forkNeverReady();
  let busy: string;
  try {
    busy = (await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::DATABASE_URL`))).body
      .id;
  } finally {
    sim.faults.reset();
  }
  // The collaborator is told to wait...
  const own = await api(
    source.token,
    'POST',
    `/apps/${scratch}/addons`,
    forkBody(`${scratch}::${ATTACHMENT}_URL`, 'FORK_OF_BUSY'),
  );
  assert.equal(own.status, 422, JSON.stringify(own.body));
  // ...an outsider learns nothing about the database.
  const outsider = userToken('busy-outsider@example.com');
  const theirs = await scratchApp(outsider, 'busy-outsider-scratch');
  const res = await api(outsider, 'POST', `/apps/${theirs}/addons`, forkBody(`${scratch}::${ATTACHMENT}_URL`));
  assert.equal(res.status, 403, JSON.stringify(res.body));
  assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}/addons/${busy}`)).status, 200);
});

test('reading config vars needs a protected scope', async () => {
  const { sim, provider } = t;
  const source = await makeSource('vars-source');
  for (const scopes of [['read'], ['write'], ['identity']]) {
    const res = await api(userToken(source.user, scopes), 'GET', `/apps/${source.app}/config-vars`);
    assert.equal(res.status, 403, `scopes ${scopes.join(' ')}`);
    assert.equal(res.body.id, 'forbidden');
    assert.equal(JSON.stringify(res.body).includes(source.url), false);
  }
  for (const scopes of [['read-protected'], ['write-protected'], ['global']]) {
    const res = await api(userToken(source.user, scopes), 'GET', `/apps/${source.app}/config-vars`);
    assert.equal(res.status, 200, `scopes ${scopes.join(' ')}`);
    assert.equal(res.body.DATABASE_URL, source.url);
  }
  // The add-on's own config (its URL under the canonical name) is guarded the same way.
  assert.equal((await api(userToken(source.user, ['read']), 'GET', `/addons/${source.addonId}/config`)).status, 403);
  const config = await api(userToken(source.user, ['read-protected']), 'GET', `/addons/${source.addonId}/config`);
  assert.deepEqual(config.body, [{ name: 'HEROKU_POSTGRESQL_URL', value: source.url }]);
  const { uuid } = await sim.provision({ app: source.app });
  assert.equal((await provider.api(uuid, 'GET', `/apps/${source.app}/config-vars`)).status, 403);
  assert.equal((await provider.api(uuid, 'GET', `/addons/${source.addonId}/config`)).status, 403);
});

test('rotatePostgresCredentials changes <ATTACHMENT>_URL on the app with exactly one release, and forks then copy through the new URL', async () => {
  const { sim } = t;
  const source = await makeSource('rotate-source');
  await server.run('postgres', `create database rotate_reporting`);
  await server.run('rotate_reporting', `create table facts (n int); insert into facts values (42)`);
  const reportingUrl = server.url('rotate_reporting');
  const reporting = sim.attachPostgres(source.app, { url: reportingUrl, as: 'REPORTING' });
  const releases = sim.releases(source.app);

  // A real rotation: the new URL uses other credentials that work.
  await server.run('postgres', `create role rotated_user login superuser password 'n3w:p@ss'`);
  const rotated = new URL(reportingUrl);
  rotated.username = 'rotated_user';
  rotated.password = 'n3w:p@ss';
  sim.rotatePostgresCredentials(reporting.id, rotated.toString());
  assert.equal(sim.releases(source.app), releases + 1, 'one release');
  const vars = await api(source.token, 'GET', `/apps/${source.app}/config-vars`);
  assert.deepEqual(vars.body, { DATABASE_URL: source.url, REPORTING_URL: rotated.toString() });
  const shown = await api(source.token, 'GET', `/apps/${source.app}/addons/${reporting.id}`);
  assert.deepEqual(shown.body.config_vars, ['REPORTING_URL']);

  // Forks read the add-on's current URL; the old URL names nothing any more, and errors never repeat it.
  const scratch = await scratchApp(source.token, 'rotate-scratch');
  const byOld = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(reportingUrl));
  assert.equal(byOld.status, 422);
  assert.equal(JSON.stringify(byOld.body).includes(new URL(reportingUrl).password), false);
  const fork = await api(source.token, 'POST', `/apps/${scratch}/addons`, forkBody(`${source.app}::REPORTING_URL`));
  assert.equal(fork.status, 201, JSON.stringify(fork.body));
  await pollUntil(source.token, scratch, fork.body.id, 'provisioned');
  assert.equal(summary(sim, fork.body.id).forkOf, reporting.id);
  const forkUrl = (await api(source.token, 'GET', `/apps/${scratch}/config-vars`)).body[`${ATTACHMENT}_URL`];
  assert.deepEqual(await query(forkUrl, 'select n from facts'), [{ n: 42 }]);
  assert.equal(sim.releases(source.app), releases + 1, 'forking makes no release on the source app');
  assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}/addons/${fork.body.id}`)).status, 200);
});

test("revokeUserAuthorizations makes that user's tokens get 401 and refresh fail, while other users and later tokens work", async () => {
  const { sim } = t;
  const source = await makeSource('revoke-source');
  const issued = sim.issueUserToken({ user: source.user, scopes: ['read-protected'], clientId: CONNECT_CLIENT });
  const second = issued.access_token;
  const other = userToken('someone-else@example.com');
  assert.equal((await api(source.token, 'GET', `/apps/${source.app}`)).status, 200);
  assert.equal(sim.faults.revokeUserAuthorizations(source.user), 2);
  for (const token of [source.token, second]) {
    const res = await api(token, 'GET', `/apps/${source.app}`);
    assert.equal(res.status, 401);
    assert.equal(res.body.id, 'unauthorized');
    assert.equal((await api(token, 'POST', '/apps', { name: 'revoked-app' })).status, 401);
  }
  const refresh = await fetch(`${sim.url}/oauth/token`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({
      grant_type: 'refresh_token',
      refresh_token: issued.refresh_token,
      client_secret: CONNECT_SECRET,
    }).toString(),
  });
  assert.equal(refresh.status, 400);
  assert.equal(((await refresh.json()) as { id: string }).id, 'invalid_grant');
  assert.equal((await api(other, 'GET', '/account')).status, 200);
  const reconnected = userToken(source.user);
  assert.equal((await api(reconnected, 'GET', `/apps/${source.app}/config-vars`)).status, 200);
});

test('stop() drops the databases the simulator created that still exist, and never an attached one', async () => {
  // A simulator of its own, so stopping it leaves the shared one running.
  const sim = await startSimulator('http://127.0.0.1:9/heroku/resources', 'http://127.0.0.1:9/sso');
  let stopped = false;
  try {
    const source = await makeSource('stop-source', { sim });
    const scratch = await scratchApp(source.token, 'stop-scratch', sim);
    const post = async (body: Record<string, unknown>) => {
      const res = await api(source.token, 'POST', `/apps/${scratch}/addons`, body, sim);
      assert.equal(res.status, 201, JSON.stringify(res.body));
      return res.body.id as string;
    };
    const live = await post(forkBody(`${source.app}::DATABASE_URL`));
    const empty = await post({ plan: 'heroku-postgresql:standard-0', attachment: { name: 'EMPTY' } });
    const deleted = await post(forkBody(`${source.app}::DATABASE_URL`, 'DELETED_FORK'));
    for (const id of [live, empty, deleted]) await pollUntil(source.token, scratch, id, 'provisioned', 20_000, sim);
    assert.equal((await api(source.token, 'DELETE', `/apps/${scratch}/addons/${deleted}`, undefined, sim)).status, 200);
    // One more whose timer has not fired yet: stop() must not let it create a database afterwards.
    const pending = await post(forkBody(`${source.app}::DATABASE_URL`, 'PENDING_FORK'));
    const names = Object.fromEntries([live, empty, deleted, pending].map((id) => [id, summary(sim, id).databaseName]));
    assert.equal(await databaseExists(names[live]!), true);
    assert.equal(await databaseExists(names[empty]!), true);

    await sim.stop();
    stopped = true;
    await sleep(READY_MS * 3);
    for (const id of [live, empty, deleted, pending])
      assert.equal(await databaseExists(names[id]!), false, `${id} (${names[id]}) still exists`);
    assert.equal(await databaseExists(source.databaseName), true, "an attached database is the test's and stays");
  } finally {
    if (!stopped) await sim.stop();
  }
});

test("stop() while a DELETE is dropping a fork's database returns only once it is gone", async () => {
  const sim = await startSimulator('http://127.0.0.1:9/heroku/resources', 'http://127.0.0.1:9/sso');
  let stopped = false;
  try {
    const source = await makeSource('stop-drop-source', { sim });
    const scratch = await scratchApp(source.token, 'stop-drop-scratch', sim);
    const created = await api(
      source.token,
      'POST',
      `/apps/${scratch}/addons`,
      forkBody(`${source.app}::DATABASE_URL`),
      sim,
    );
    assert.equal(created.status, 201);
    await pollUntil(source.token, scratch, created.body.id, 'provisioned', 20_000, sim);
    const name = summary(sim, created.body.id).databaseName;
    // The add-on is deprovisioned at once; its DROP DATABASE follows on a connection of its own.
    const deleting = api(source.token, 'DELETE', `/apps/${scratch}/addons/${created.body.id}`, undefined, sim).catch(
      () => null,
    );
    while (summary(sim, created.body.id).state !== 'deprovisioned') await sleep(1);
    await sim.stop();
    stopped = true;
    // What npm start does next: the server stops, and a drop still under way would never finish.
    assert.equal(await databaseExists(name), false, `${name} still exists when stop() returned`);
    await deleting;
  } finally {
    if (!stopped) await sim.stop();
  }
});

test('stop() while a copy is in flight stops it and drops its database', async () => {
  const sim = await startSimulator('http://127.0.0.1:9/heroku/resources', 'http://127.0.0.1:9/sso');
  let stopped = false;
  try {
    const source = await makeSource('stop-inflight-source', { sim });
    await addBigTable(server, source.databaseName, 200_000);
    const scratch = await scratchApp(source.token, 'stop-inflight-scratch', sim);
    const created = await api(
      source.token,
      'POST',
      `/apps/${scratch}/addons`,
      forkBody(`${source.app}::DATABASE_URL`),
      sim,
    );
    assert.equal(created.status, 201);
    const name = summary(sim, created.body.id).databaseName;
    await waitForCopy(name);
    await sim.stop();
    stopped = true;
    assert.equal(await databaseExists(name), false);
    assert.equal(summary(sim, created.body.id).state, 'deprovisioned', 'the copy was stopped, not finished');
    await noCopySessions(source.databaseName);
  } finally {
    if (!stopped) await sim.stop();
  }
});

test('stop() leaves no database behind even for a fork asked for while it is stopping', async () => {
  const sim = await startSimulator('http://127.0.0.1:9/heroku/resources', 'http://127.0.0.1:9/sso');
  let stopping: Promise<void> | null = null;
  try {
    const source = await makeSource('stop-race-source', { sim });
    const scratch = await scratchApp(source.token, 'stop-race-scratch', sim);
    const first = await api(
      source.token,
      'POST',
      `/apps/${scratch}/addons`,
      forkBody(`${source.app}::DATABASE_URL`),
      sim,
    );
    await pollUntil(source.token, scratch, first.body.id, 'provisioned', 20_000, sim);
    // Dropping the first fork's database takes a moment; a client still at work asks for another meanwhile.
    stopping = sim.stop();
    const late = await api(
      source.token,
      'POST',
      `/apps/${scratch}/addons`,
      forkBody(`${source.app}::DATABASE_URL`, 'LATE_FORK'),
      sim,
    ).then(
      (res) => String(res.status),
      (error: unknown) => `refused (${(error as Error).message})`,
    );
    await stopping;
    await sleep(READY_MS * 4);
    for (const addon of sim.postgresAddons().filter((a) => a.forkOf)) {
      assert.equal(
        await databaseExists(addon.databaseName),
        false,
        `${addon.name} (${addon.state}) left ${addon.databaseName}; the late POST got ${late}`,
      );
    }
  } finally {
    await (stopping ?? sim.stop());
  }
});
