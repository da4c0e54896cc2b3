import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { Browser, startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { findSourceSetting } from '../../../src/backups/sources.repo.ts';
import { findResource } from '../../../src/resources/resources.repo.ts';

// Heroku's add-on manager does not say which app an add-on belongs to: a job learns it after the grant
// exchange. A newcomer can sign in and connect Heroku before that job has run; the backup source must
// still become the app's DATABASE attachment once the app is known, not stay empty.
const CONNECT = { id: 'big-backup-connect', secret: 'connect-client-secret-for-tests-only' };
const server = await startSourceServer();
after(() => server.stop());
const { app, sim } = await startStack({
  worker: false, // no job runs until the test starts the worker: the app stays unknown while connecting
  sim: { oauthClients: [{ id: CONNECT.id, secret: CONNECT.secret }], postgres: { adminUrl: server.url('postgres') } },
  env: { HEROKU_CONNECT_CLIENT_ID: CONNECT.id, HEROKU_CONNECT_CLIENT_SECRET: CONNECT.secret },
});
const db = app.runtime.pool;

test("connecting Heroku before the add-on's app is known still backs up that app's DATABASE once it is learned", async () => {
  const owner = `owner-early-${Date.now()}@example.com`;
  const outcome = await sim.provision({ plan: 'standard', app: { owner, collaborators: [] } });
  assert.equal(outcome.result, 'provisioned');
  const appName = sim.app(outcome.addon.appId)!.name;
  sim.attachPostgres(appName, { url: await seedSourceDatabase(server, 'early_connect'), plan: 'standard-0' });
  assert.equal((await findResource(db, outcome.uuid))?.appName ?? null, null, 'the app is not known yet');

  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(outcome.uuid, { user: owner }))).status, 303);
  const authorize = new URL((await browser.request('GET', '/connect/heroku')).headers.get('location')!);
  authorize.searchParams.set('user', owner);
  const callback = new URL((await fetch(authorize, { redirect: 'manual' })).headers.get('location')!);
  const back = await browser.request('GET', callback.pathname + callback.search);
  assert.equal(back.headers.get('location'), '/settings/heroku?notice=connected');
  assert.equal(
    await findSourceSetting(db, outcome.uuid),
    undefined,
    'no source can be chosen while the app is unknown',
  );

  await app.startWorker();
  const source = await eventually(() => findSourceSetting(db, outcome.uuid), {
    what: 'the source to be set',
    timeoutMs: 20_000,
  });
  assert.deepEqual(source, {
    kind: 'heroku',
    description: `${appName}::DATABASE_URL`,
    appName,
    attachmentName: 'DATABASE',
  });
});
