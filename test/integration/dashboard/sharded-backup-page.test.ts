import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { provisionedResource, shardedBackupInFlight, signedInBrowser } from '../../support/factories.ts';

// A backup captured in pieces shows how it is captured and why, its progress with an estimate of the
// time left, and one row per piece: state, table and range, size, rate and the worker that dumped it.
const stack = await startStack({ worker: false });
const db = stack.app.runtime.pool;

test('the backup page of a sharded backup shows its mode, progress, time left and every piece with its worker', async () => {
  const { uuid } = await provisionedResource(stack, { awaitApp: false });
  const browser = await signedInBrowser(stack, uuid);
  const backup = await shardedBackupInFlight(db, uuid);
  const page = await (await browser.request('GET', `/backups/${backup.id}`)).text();

  assert.match(page, /id="capture-mode"><strong>Sharded<\/strong>: a fork cannot change while it is dumped/);
  assert.match(page, /2 of 4 pieces done \(50 % of about [^)]+\) · 1 running · 1 waiting · about 4 s left/);
  const rows = [...page.matchAll(/<tr class="piece-(\w+)" data-piece="(\d)">([\s\S]*?)<\/tr>/g)].map((m) => ({
    state: m[1],
    cells: [...m[3]!.matchAll(/<td>([\s\S]*?)<\/td>/g)].map((c) => c[1]!.replace(/\s+/g, ' ').trim()),
  }));
  assert.deepEqual(
    rows.map((r) => [r.state, r.cells[2], r.cells[3], r.cells[6]]),
    [
      ['done', 'public.big', '0–1000', 'worker.1:101'],
      ['done', 'public.big', '1000–2000', 'worker.1:101'],
      ['running', 'public.big', '2000–3000', 'worker.2:202'],
      ['waiting', 'public.big', '3000–end', '—'],
    ],
  );
  assert.match(rows[0]!.cells[5]!, /^2\.00 MB\/s$/, 'a done piece shows its rate');
});
