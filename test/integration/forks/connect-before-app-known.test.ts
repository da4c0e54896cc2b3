import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import {
  CONNECT_CLIENT,
  connectClientEnv,
  connectHeroku,
  provisionedResource,
  signedInBrowser,
} from '../../support/factories.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { findSourceSetting } from '../../../src/backups/sources.repo.ts';
import { findResource } from '../../../src/resources/resources.repo.ts';

// Heroku's add-on manager does not say which app an add-on belongs to: a job learns it after the grant
// exchange. A newcomer can sign in and connect Heroku before that job has run; the backup source must
// still become the app's DATABASE attachment once the app is known, not stay empty.
const server = await startSourceServer();
after(() => server.stop());
const stack = await startStack({
  worker: false, // no job runs until the test starts the worker: the app stays unknown while connecting
  sim: { oauthClients: [CONNECT_CLIENT], postgres: { adminUrl: server.url('postgres') } },
  env: connectClientEnv,
});
const { app, sim } = stack;
const db = app.runtime.pool;

test("connecting Heroku before the add-on's app is known still backs up that app's DATABASE once it is learned", async () => {
  const owner = `owner-early-${Date.now()}@example.com`;
  const { outcome } = await provisionedResource(stack, { owner, awaitApp: false });
  const appName = sim.app(outcome.addon.appId)!.name;
  sim.attachPostgres(appName, { url: await seedSourceDatabase(server, 'early_connect'), plan: 'standard-0' });
  assert.equal((await findResource(db, outcome.uuid))?.appName ?? null, null, 'the app is not known yet');

  const browser = await signedInBrowser(stack, outcome.uuid, owner);
  const back = await connectHeroku(stack, browser, owner);
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
