import test from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startStack, Browser } from '../../support/stack.ts';

// Heroku's clock and ours may differ by minutes. The app runs on a clock the test moves, and each
// form names its own timestamp, so every edge of the window is exact and no test waits for real time.
let clock = Math.floor(Date.now() / 1000);
const { app, sim } = await startStack({ worker: false, nowSeconds: () => clock });
const db = app.runtime.pool;

async function provisioned(): Promise<string> {
  const { uuid, result } = await sim.provision();
  assert.equal(result, 'provisioned');
  return uuid;
}

/** Signs in with a form stamped `offset` seconds from our clock; the HTTP status. */
async function signInStamped(uuid: string, offset: number, user?: string): Promise<number> {
  const form = sim.ssoForm(uuid, { timestamp: clock + offset, ...(user ? { user } : {}) });
  return (await new Browser(app.url).signIn(form)).status;
}

test('accepts sign-on tokens stamped up to 5 minutes ahead of our clock or behind it, and refuses beyond', async () => {
  const uuid = await provisioned();
  let n = 0;
  const user = () => `skew${n++}-${uuid.slice(0, 6)}@example.com`;
  assert.equal(await signInStamped(uuid, 300, user()), 303, 'Heroku 5 minutes ahead');
  assert.equal(await signInStamped(uuid, 240, user()), 303, 'Heroku 4 minutes ahead');
  assert.equal(await signInStamped(uuid, -300, user()), 303, 'Heroku 5 minutes behind');
  assert.equal(await signInStamped(uuid, 301, user()), 403, 'more than 5 minutes ahead');
  assert.equal(await signInStamped(uuid, -301, user()), 403, 'more than 5 minutes behind');
});

test('a token used once is refused for as long as it could be accepted, across the whole 10-minute window', async () => {
  const uuid = await provisioned();
  const start = clock;
  // Stamped 5 minutes ahead of us: the first moment we accept it.
  const form = sim.ssoForm(uuid, { timestamp: start + 300 });
  assert.equal((await new Browser(app.url).signIn(form)).status, 303, 'first use');
  const hash = createHash('sha256').update(form.params.user_scoped_resource_token!.toLowerCase()).digest('hex');
  try {
    for (const elapsed of [1, 299, 300, 599, 600]) {
      clock = start + elapsed;
      // The database's clock moves with ours: the use looks as old as the time that passed.
      await db.query(`update sso_token_uses set used_at = now() - make_interval(secs => $2) where token_hash = $1`, [
        hash,
        elapsed,
      ]);
      assert.equal((await new Browser(app.url).signIn(form)).status, 403, `replayed ${elapsed} s later`);
    }
    clock = start + 601;
    assert.equal((await new Browser(app.url).signIn(form)).status, 403, 'and once the window closed, expired anyway');
  } finally {
    clock = start;
  }
});
