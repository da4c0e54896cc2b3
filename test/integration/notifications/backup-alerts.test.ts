import test from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import { startStack } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { backupIn, jobDeps, pendingBackupRow, seededSourceServer, signedInResource } from '../../support/factories.ts';
import { runBackup } from '../../../src/jobs/run-backup.ts';
import { backupNotice } from '../../../src/jobs/backup-notice.ts';
import { PLANS } from '../../../src/resources/plans.ts';
import { openObjectStore } from '../../../src/storage/open-object-store.ts';
import { startSmtpServer, startWebhookReceiver } from '../../support/notify-receivers.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { listAdminEmails } from '../../../src/notifications/notification-settings.repo.ts';
import { addWebhook, sendTestNotification } from '../../../src/notifications/notifications.service.ts';
import { notifyDepsFrom } from '../../../src/notifications/notify-config.ts';
import { verifyWebhookSignature } from '../../../src/notifications/webhook-signature.ts';
import { sendJob } from '../../../src/queue/send.ts';

// A final failure reaches every channel once: one email (a real SMTP server), one signed webhook (a real
// HTTP receiver) and one line in the app's log stream (the simulator's Logplex input, whose URL Heroku
// sent in the provision request). All on loopback, run by the real worker.
const smtp = await startSmtpServer();
const receiver = await startWebhookReceiver();
const stack = await startStack({ env: { SMTP_URL: smtp.url, EMAIL_FROM: 'big-backup <alerts@big-backup.test>' } });
const { app, sim } = stack;
const db = app.runtime.pool;
const deps = { pool: db, boss: app.boss, secrets: app.runtime.secrets, notify: notifyDepsFrom(app.config) };
const { sourceUrl } = await seededSourceServer('alerts');

const { uuid, appName } = await signedInResource(stack);
const actor = { resourceId: uuid, id: 'user:test', label: 'admin@example.com', ip: null };
const { secret } = await addWebhook(deps, actor, { url: `${receiver.url}/hooks/one` });

async function deliveriesSettled(eventKind: string) {
  return eventually(
    async () => {
      const { rows } = await db.query<{ channel: string; state: string; attempts: number; last_status: number | null }>(
        `select d.channel, d.state, d.attempts, d.last_status from notification_deliveries d
         join notification_events e on e.id = d.event_id where e.resource_id = $1 and e.kind = $2 order by d.channel`,
        [uuid, eventKind],
      );
      return rows.length > 0 && rows.every((row) => row.state !== 'pending') ? rows : undefined;
    },
    { timeoutMs: 60_000, what: `the ${eventKind} deliveries to settle` },
  );
}

const hooksOf = (type: string) => receiver.requests.filter((request) => JSON.parse(request.body).type === type);

test('a final backup failure sends one email, one signed webhook and one log-stream line', async () => {
  // No database is configured: the backup fails at once, for good (no_source is not retried).
  const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, { trigger: 'manual', requestedBy: 'x' });
  const backup = await backupIn(db, requested!.id);
  assert.equal(backup.state, 'failed');
  const deliveries = await deliveriesSettled('backup.failed');
  assert.deepEqual(
    deliveries.map((d) => [d.channel, d.state]),
    [
      ['email', 'sent'],
      ['log_stream', 'sent'],
      ['webhook', 'sent'],
    ],
  );

  const admins = await listAdminEmails(db, uuid);
  assert.equal(admins.length, 1);
  const mails = smtp.messages.filter((mail) => /backup b001 .* failed/.test(mail.raw));
  assert.equal(mails.length, 1, 'exactly one email');
  assert.deepEqual(mails[0]!.to, admins, 'to the admin who signed in');
  assert.equal(mails[0]!.from, 'alerts@big-backup.test');
  assert.match(mails[0]!.raw, /there is no database to back up yet/);

  const hooks = hooksOf('backup.failed');
  assert.equal(hooks.length, 1, 'exactly one webhook');
  const hook = hooks[0]!;
  assert.equal(hook.path, '/hooks/one');
  assert.equal(hook.headers['content-type'], 'application/json');
  const signature = hook.headers['x-big-backup-signature'] as string;
  assert.ok(verifyWebhookSignature(secret, signature, hook.body), 'the signature verifies with the secret shown once');
  assert.equal(verifyWebhookSignature(secret, signature, hook.body.replace('b001', 'b002')), false);
  assert.equal(verifyWebhookSignature('whsec_wrong', signature, hook.body), false);
  const body = JSON.parse(hook.body);
  assert.equal(body.addon.id, uuid);
  assert.equal(body.addon.app, appName);
  assert.match(
    body.text,
    new RegExp(`^big-backup: backup b001 of ${appName} failed after 1 attempt: there is no database`),
  );
  assert.equal(body.data.backup, 'b001');

  const lines = sim.logLines(appName);
  const failed = lines.filter((line) => / failed/.test(line.message));
  assert.equal(failed.length, 1, 'exactly one failure line in the log stream');
  assert.equal(failed[0]!.procId, 'big-backup');
  assert.equal(failed[0]!.appName, 'app');
  assert.equal(failed[0]!.priority, 190);
  assert.equal(failed[0]!.hostname, `t.${uuid}`);
  assert.match(failed[0]!.userAgent ?? '', /^big-backup \(/);
  assert.equal(lines.filter((line) => / started$/.test(line.message)).length, 1, 'and the start, once');
});

test('a webhook answering 500 twice then 200 gets the event once, retried with backoff', async () => {
  const before = receiver.requests.length;
  receiver.answers.push(500, 500);
  const { deliveries } = await sendTestNotification(deps, actor);
  assert.equal(deliveries, 3, 'email, the webhook and the log stream');
  const settled = await deliveriesSettled('test');
  const webhook = settled.find((d) => d.channel === 'webhook')!;
  assert.deepEqual([webhook.state, webhook.attempts, webhook.last_status], ['sent', 3, 200]);
  const requests = receiver.requests.slice(before);
  assert.deepEqual(
    requests.map((r) => r.answered),
    [500, 500, 200],
  );
  const ids = new Set(requests.map((r) => JSON.parse(r.body).id));
  assert.equal(ids.size, 1, 'the same event each time');

  // The job run again (pg-boss delivers at least once) finds the delivery sent and sends nothing.
  const { rows } = await db.query<{ id: string }>(
    `select d.id::text from notification_deliveries d join notification_events e on e.id = d.event_id
     where e.resource_id = $1 and e.kind = 'test' and d.channel = 'webhook'`,
    [uuid],
  );
  await sendJob(app.boss, 'deliverNotification', { deliveryId: rows[0]!.id });
  await new Promise((resolve) => setTimeout(resolve, 3000));
  assert.equal(receiver.requests.length, before + 3, 'no duplicate after it succeeded');
});

test('recovery after a failure is announced once', async () => {
  await setDirectSource(db, app.runtime.secrets, uuid, sourceUrl, 'admin@example.com');
  for (let i = 0; i < 2; i++) {
    const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, { trigger: 'manual', requestedBy: 'x' });
    const backup = await backupIn(db, requested!.id);
    assert.equal(backup.state, 'completed', `${backup.failureKind}: ${backup.failureReason}`);
  }
  await deliveriesSettled('backup.recovered');
  const { rows } = await db.query<{ kind: string; count: number }>(
    `select kind, count(*)::int as count from notification_events where resource_id = $1 group by kind order by kind`,
    [uuid],
  );
  const counts = Object.fromEntries(rows.map((row) => [row.kind, row.count]));
  assert.equal(counts['backup.recovered'], 1);
  assert.equal(counts['backup.completed'], 2);
  assert.equal(hooksOf('backup.recovered').length, 1, 'the webhook heard of it once');
  assert.equal(hooksOf('backup.completed').length, 0, 'progress is not sent to a webhook that did not ask for it');
  await eventually(async () => sim.logLines(appName).filter((line) => / completed: /.test(line.message)).length === 2, {
    what: 'two completion lines in the log stream',
  });
  const completed = sim.logLines(appName).find((line) => / completed: /.test(line.message))!;
  assert.match(completed.message, /^big-backup: backup b002 of .+ completed: [\d.]+ (bytes|kB|MB) in \d+s, verified$/);
});

test("a database above 80% of the plan's limit is warned about once, not at every backup", async () => {
  const client = new pg.Client({ connectionString: sourceUrl });
  await client.connect();
  const size = Number((await client.query('select pg_database_size(current_database()) as size')).rows[0].size);
  await client.end();
  // The Standard plan made just big enough for this database: it is at 90% of the limit.
  const plans = { ...PLANS, standard: { ...PLANS.standard, maxDatabaseBytes: Math.ceil(size / 0.9) } };
  const store = await openObjectStore(app.config.STORAGE_URL!, {});
  const notify = notifyDepsFrom(app.config);
  for (let i = 0; i < 2; i++) {
    const backup = await pendingBackupRow(db, uuid);
    // The backup runs here (not in the worker) so that its completion notice can be handed the
    // small catalogue too: the notice job, run as the worker runs it, with these plans.
    await runBackup(
      jobDeps(app, { store, backup: { stallTimeoutMs: 60_000, cancelPollMs: 250 } }),
      { backupId: backup.id },
      { id: 'job', signal: new AbortController().signal, retryCount: 0, expireInSeconds: 3600 },
    );
    assert.equal((await backupIn(db, backup.id)).state, 'completed');
    await backupNotice(jobDeps(app, { plans, notify }), { backupId: backup.id, notice: 'completed', attempt: 1 });
  }
  await store.close();
  const { rows } = await db.query<{ payload: { databaseBytes: number; limitBytes: number; plan: string } }>(
    `select payload from notification_events where resource_id = $1 and kind = 'database.near_limit'`,
    [uuid],
  );
  assert.equal(rows.length, 1, 'once: the warning repeats weekly at most');
  assert.deepEqual(rows[0]!.payload.plan, 'Standard');
  assert.equal(rows[0]!.payload.databaseBytes, size);
  const mails = await eventually(
    async () => {
      const found = smtp.messages.filter((m) => /^X-Big-Backup-Event: database\.near_limit\r?$/m.test(m.raw));
      return found.length > 0 ? found : undefined;
    },
    { what: 'the near-limit email' },
  );
  assert.equal(mails.length, 1);
  assert.match(mails[0]!.raw.replace(/=\r?\n/g, ''), /near the Standard plan/);
});
