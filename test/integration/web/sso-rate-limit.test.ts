import test from 'node:test';
import assert from 'node:assert/strict';
import { startStack } from '../../support/stack.ts';
import { SSO_RATE_LIMIT } from '../../../src/http/sso/routes.ts';

// In a file of its own: this test uses up the limit of the address it signs on from.
const { app } = await startStack({ worker: false });

test('single sign-on answers 429 past its per-address limit, and a forged X-Forwarded-For does not get round it', async () => {
  const post = (headers: Record<string, string> = {}) =>
    fetch(new URL('/sso/login', app.url), {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
      body: new URLSearchParams({
        resource_id: '00000000-0000-0000-0000-000000000000',
        timestamp: '0',
        resource_token: 'x',
      }).toString(),
    });
  // As behind Heroku's router, which appends the address it saw to whatever the client sent.
  const viaRouter = (client: string, forged?: string) =>
    post({ 'x-forwarded-for': forged ? `${forged}, ${client}` : client });
  for (let i = 0; i < SSO_RATE_LIMIT.limit; i++)
    assert.equal((await viaRouter('198.51.100.1')).status, 403, `attempt ${i + 1} is judged on its token`);
  const limited = await viaRouter('198.51.100.1');
  assert.equal(limited.status, 429);
  assert.ok(limited.headers.get('ratelimit-policy') || limited.headers.get('ratelimit'), 'standard rate-limit headers');
  assert.equal(
    (await viaRouter('198.51.100.1', '203.0.113.7')).status,
    429,
    'a forged X-Forwarded-For entry does not get round it',
  );
  assert.equal((await viaRouter('198.51.100.2')).status, 403, 'another address is not limited');
});
