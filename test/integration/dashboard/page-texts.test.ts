import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack, Browser } from '../../support/stack.ts';

// Small texts of the dashboard that read wrong for some plans or states.
const { app, sim } = await startStack({ worker: false });

test("the Basic plan's retention text names only the tiers the plan has", async () => {
  const { uuid } = await sim.provision({ plan: 'basic' });
  const browser = new Browser(app.url);
  assert.equal((await browser.signIn(sim.ssoForm(uuid))).status, 303);
  const page = await (await browser.request('GET', '/settings')).text();
  const text = /<section id="retention">[\s\S]*?<p>([\s\S]*?)<\/p>/.exec(page)?.[1]?.replace(/\s+/g, ' ');
  assert.equal(
    text,
    'The Basic plan keeps the newest 10 manual backups and, of scheduled ones, the newest of each of the last 7 days and 4 weeks. The newest verified backup is always kept.',
  );
});

test('a page that needs a session answers 401 titled "Sign in from Heroku"', async () => {
  const response = await fetch(new URL('/dashboard', app.url), { headers: { accept: 'text/html' } });
  assert.equal(response.status, 401);
  const page = await response.text();
  assert.match(page, /<title>Sign in from Heroku<\/title>/);
  assert.match(page, /<h1>Sign in from Heroku<\/h1>/);
  assert.match(page, /heroku addons:open big-backup/);
});
