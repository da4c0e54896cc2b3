import test, { after } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Options } from 'express-rate-limit';
import { startTestApp, testSecrets } from '../../support/app.ts';
import { cloneTemplateDatabase } from '../../support/database.ts';
import { SSO_RATE_LIMIT } from '../../../src/http/sso/routes.ts';
import { PgRateLimitStore } from '../../../src/http/rate-limit-store.ts';

// Two web processes on one database, as two web dynos are.
const database = await cloneTemplateDatabase('ratelimit');
const databaseUrl = database.url;
const secrets = testSecrets();
const first = await startTestApp(secrets, { databaseUrl });
const second = await startTestApp(secrets, { databaseUrl });
after(() => database.drop()); // added after the apps' own hooks, so it runs once both have stopped

function signOn(url: string, client: string): Promise<Response> {
  return fetch(new URL('/sso/login', url), {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-forwarded-for': client },
    body: new URLSearchParams({
      resource_id: '00000000-0000-0000-0000-000000000000',
      timestamp: '0',
      resource_token: 'x',
    }).toString(),
  });
}

test('the sign-on limit is one limit across web processes, not one per process', async () => {
  for (let i = 0; i < SSO_RATE_LIMIT.limit; i++) {
    const app = i % 2 === 0 ? first : second;
    assert.equal((await signOn(app.url, '198.51.100.9')).status, 403, `attempt ${i + 1} is judged on its token`);
  }
  assert.equal((await signOn(first.url, '198.51.100.9')).status, 429);
  assert.equal((await signOn(second.url, '198.51.100.9')).status, 429);
  assert.equal((await signOn(second.url, '198.51.100.10')).status, 403, 'another address is not limited');
});

test('a window ends and counting starts again; decrement and reset change only their key', async () => {
  const pool = new pg.Pool({ connectionString: databaseUrl, max: 2 });
  try {
    const store = new PgRateLimitStore(pool, 'unit:');
    store.init({ windowMs: 1000 } as Options);
    const other = new PgRateLimitStore(pool, 'other:');
    other.init({ windowMs: 60_000 } as Options);
    assert.equal((await store.increment('a')).totalHits, 1);
    const second = await store.increment('a');
    assert.equal(second.totalHits, 2);
    assert.ok(
      second.resetTime && second.resetTime.getTime() > Date.now() && second.resetTime.getTime() <= Date.now() + 1500,
    );
    assert.equal((await other.increment('a')).totalHits, 1, 'prefixes keep limits apart');
    await store.decrement('a');
    assert.equal((await store.get('a'))?.totalHits, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    assert.equal(await store.get('a'), undefined, 'an ended window counts nothing');
    assert.equal((await store.increment('a')).totalHits, 1, 'a new window opens');
    await store.resetKey('a');
    assert.equal(await store.get('a'), undefined);
    assert.equal((await other.get('a'))?.totalHits, 1);
  } finally {
    await pool.end();
  }
});
