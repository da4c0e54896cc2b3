import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import {
  backupIn,
  CONNECT_CLIENT,
  connectClientEnv,
  connectHeroku,
  provisionedResource,
  signedInBrowser,
} from '../../support/factories.ts';
import { startSourceServer, seedSourceDatabase } from '../../support/seed-source.ts';
import { findSourceSetting } from '../../../src/backups/sources.repo.ts';
import { findResource } from '../../../src/resources/resources.repo.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';

// Heroku's add-on manager does not say which app an add-on belongs to: a job learns it after the grant
// exchange. A newcomer can sign in, connect Heroku and press "Capture now" before that job has run; the
// backup source must still become the app's DATABASE attachment, and that first backup must not fail.
const server = await startSourceServer();
after(() => server.stop());
/** Our app and the simulator with the worker stopped: no job runs until the test starts it. */
async function stackWithoutWorker() {
  const stack = await startStack({
    worker: false,
    sim: {
      oauthClients: [CONNECT_CLIENT],
      postgres: { adminUrl: server.url('postgres') },
      forkReadyAfterMs: 200,
    },
    env: {
      ...connectClientEnv,
      FORK_POLL_INTERVAL_SECONDS: '0.2',
    },
  });
  return { ...stack, db: stack.app.runtime.pool };
}
type EarlyStack = Awaited<ReturnType<typeof stackWithoutWorker>>;
// One stack per test: each needs the add-on's app unknown until it starts the worker.
const forCapture = await stackWithoutWorker();
const forConnect = await stackWithoutWorker();

/** Provisions on an app with a seeded DATABASE, signs in and connects Heroku; the add-on's app is not learned yet. */
async function connectedBeforeAppKnown(stack: EarlyStack, name: string) {
  const { sim, db } = stack;
  const owner = `owner-${name}-${Date.now()}@example.com`;
  const { outcome } = await provisionedResource(stack, { owner, awaitApp: false });
  const appName = sim.app(outcome.addon.appId)!.name;
  sim.attachPostgres(appName, { url: await seedSourceDatabase(server, name), plan: 'standard-0' });
  assert.equal((await findResource(db, outcome.uuid))?.appName ?? null, null, 'the app is not known yet');

  const browser = await signedInBrowser(stack, outcome.uuid, owner);
  const back = await connectHeroku(stack, browser, owner);
  assert.equal(back.headers.get('location'), '/settings/heroku?notice=connected');
  assert.equal(
    await findSourceSetting(db, outcome.uuid),
    undefined,
    'no source can be chosen while the app is unknown',
  );
  return { uuid: outcome.uuid, appName, owner };
}

test('a backup captured before Heroku has said which app the add-on is on waits for it, then completes from a fork', async () => {
  const { app, sim, db } = forCapture;
  const r = await connectedBeforeAppKnown(forCapture, 'early_capture');
  const backup = (await requestBackup({ pool: db, boss: app.boss }, r.uuid, {
    trigger: 'manual',
    requestedBy: r.owner,
  }))!;
  // The grant exchange, which learns the app, fails twice first: the backup starts while the app is unknown.
  sim.faults.failNextTokenRequests(2);
  await app.startWorker();
  const done = await backupIn(db, backup.id);
  assert.equal(done.failureReason, null);
  assert.equal(done.state, 'completed');
  assert.equal(done.sourceMode, 'fork');
});

test("connecting Heroku before the add-on's app is known backs up that app's DATABASE once it is learned", async () => {
  const { app, db } = forConnect;
  const r = await connectedBeforeAppKnown(forConnect, 'early_connect');
  await app.startWorker();
  const source = await eventually(() => findSourceSetting(db, r.uuid), {
    what: 'the source to be set',
    timeoutMs: 20_000,
  });
  assert.deepEqual(source, {
    kind: 'heroku',
    description: `${r.appName}::DATABASE_URL`,
    appName: r.appName,
    attachmentName: 'DATABASE',
  });
});
