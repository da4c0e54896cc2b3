import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, Browser } from '../../support/stack.ts';
import { eventually } from '../../support/app.ts';
import { freePort } from '../../../dev/db/local-cluster.ts';
import { requestBackup } from '../../../src/backups/backups.service.ts';
import { setDirectSource } from '../../../src/backups/sources.repo.ts';
import { findBackup } from '../../../src/backups/backups.repo.ts';
import { QUEUES, deadLetterName } from '../../../src/queue/queues.ts';

// Retry budget (trust.md scenario 18, issue 13): a retryable failure that never clears is retried
// with growing delays, ends as failed after the queue's retries, leaves a dead-letter record, and the
// dashboard says it gave up. The queue's own retry settings are kept, except the delay, shortened here
// through pg-boss's updateQueue (as an operator could) so the test takes seconds, not hours.

const { app, sim } = await startStack();
const db = app.runtime.pool;
const RETRY_DELAY_S = 2;
await app.boss.updateQueue(QUEUES.backup.name, { retryDelay: RETRY_DELAY_S, retryBackoff: true, retryDelayMax: 600 });

test('a failure that never clears is retried with growing delays, then given up, dead-lettered and shown', async () => {
  const { uuid } = await sim.provision({ plan: 'standard' });
  // Nothing listens there: every attempt fails to connect, which is retryable.
  const nowhere = `postgres://app:pw@127.0.0.1:${await freePort()}/shop`;
  await setDirectSource(db, app.runtime.secrets, uuid, nowhere, 'owner@example.com');
  const requested = await requestBackup({ pool: db, boss: app.boss }, uuid, { trigger: 'manual', requestedBy: 'x' });
  const backupId = requested!.id;
  const attempts = QUEUES.backup.options.retryLimit + 1;

  const failed = await eventually(
    async () => {
      const b = await findBackup(db, backupId);
      return b?.state === 'failed' ? b : undefined;
    },
    { timeoutMs: 90_000, intervalMs: 250, what: 'the backup to end as failed' },
  );
  assert.equal(failed.failureKind, 'connection_failed');
  assert.equal(failed.attempt, attempts, `${attempts} attempts: the first and ${attempts - 1} retries`);

  // When each attempt started: the gaps grow (pg-boss's backoff: between d·2^(n-1) and d·2^n before retry n).
  const starts = (
    await db.query<{ attempt: number; at: Date }>(
      `select attempt, min(at) as at from backup_events where backup_id = $1 and state = 'running'
        group by attempt order by attempt`,
      [backupId],
    )
  ).rows;
  assert.deepEqual(
    starts.map((s) => s.attempt),
    Array.from({ length: attempts }, (_, i) => i + 1),
  );
  const gaps = starts.slice(1).map((s, i) => (s.at.getTime() - starts[i]!.at.getTime()) / 1000);
  gaps.forEach((gap, i) => {
    const least = RETRY_DELAY_S * 2 ** i;
    assert.ok(gap >= least - 0.05, `retry ${i + 1} waited ${gap} s, at least ${least} s`);
  });
  assert.ok(gaps.at(-1)! > gaps[0]! * 1.5, `the delays grow: ${gaps.join(', ')} s`);

  // The job is in the dead-letter queue, once, and nothing is left queued for the backup. The row says
  // failed a moment before pg-boss has failed the job (and then dead-lettered it): wait for that.
  const jobs = await eventually(
    async () => {
      const { rows } = await db.query<{ name: string; state: string }>(
        `select name, state from pgboss.job where data->>'backupId' = $1 and name <> 'backup-notice' order by created_on`,
        [backupId],
      );
      return rows.some((j) => j.name === deadLetterName(QUEUES.backup.name)) ? rows : undefined;
    },
    { what: 'the job to be dead-lettered' },
  );
  assert.deepEqual(jobs.filter((j) => j.name === deadLetterName(QUEUES.backup.name)).length, 1, JSON.stringify(jobs));
  assert.deepEqual(
    jobs.filter((j) => j.name === QUEUES.backup.name).map((j) => j.state),
    ['failed'],
  );

  // The dashboard says so.
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(uuid))).status, 303);
  const page = await browser.request('GET', `/backups/${backupId}`);
  assert.equal(page.status, 200);
  const html = await page.text();
  assert.match(html, new RegExp(`Gave up after ${attempts} attempts`));
  assert.match(html, /Failed \(connection_failed\)/);
});
