import test from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { startStack, Browser } from '../../support/stack.ts';

const { app, sim } = await startStack({ worker: false });
const db = app.runtime.pool;

/** The session row's id from the browser's cookie (`s:<sid>.<signature>`). */
function sessionId(browser: Browser): string {
  const value = [...browser.cookies.values()].map((v) => decodeURIComponent(v)).find((v) => v.startsWith('s:'));
  assert.ok(value, 'a session cookie');
  return value.slice(2, value.lastIndexOf('.'));
}

// Every write of a session row, with when it happened (this test's own database).
await db.query(`create table session_writes (sid text, at timestamptz)`);
await db.query(`create function note_session_write() returns trigger language plpgsql as
  $$ begin insert into session_writes values (new.sid, clock_timestamp()); return new; end $$`);
await db.query(
  `create trigger session_writes after insert or update on sessions for each row execute function note_session_write()`,
);

test("a sign-in's redirect arrives only after the session is saved: nothing writes it afterwards", async () => {
  for (let i = 0; i < 10; i++) {
    const { uuid } = await sim.provision();
    const browser = new Browser(app.url);
    const response = await browser.signIn(sim.ssoForm(uuid));
    const arrived = new Date();
    assert.equal(response.status, 303);
    await sleep(300);
    const sid = sessionId(browser);
    const writes = (await db.query<{ at: Date }>('select at from session_writes where sid = $1 order by at', [sid]))
      .rows;
    assert.ok(writes.length > 0, 'saved');
    // A browser follows the redirect at once; a write after that could overwrite what its next request saves.
    const late = writes.filter((w) => w.at.getTime() > arrived.getTime());
    assert.deepEqual(
      late.map((w) => w.at.toISOString()),
      [],
      `attempt ${i + 1}: the session was written after the redirect arrived at ${arrived.toISOString()}`,
    );
  }
});
