import test from 'node:test';
import assert from 'node:assert/strict';
import {
  SSO_MAX_AGE_SECONDS,
  SSO_MAX_FUTURE_SECONDS,
  SSO_TOKEN_USE_RETENTION_SECONDS,
  verifySsoPost,
} from '../../src/sso/sso-token.ts';

// The worked example of heroku-contract.md §6.2, computed independently of our code.
const uuid = '01234567-89ab-cdef-0123-456789abcdef';
const salt = '2f97bfa52ca102f8874716e2eb1d3b4920ad0be4';
const timestamp = 1_700_000_000;
const user = { user_id: 'fedcba98-7654-3210-fedc-ba9876543210', email: 'user@example.com' };
const resourceToken = '4f86d9a322ac89cfc8dbd27a64cc186a41f234a2';
const userScopedToken = '0dd50a298d6163f3efca20842e61ea2f9d8f78c57d8c2dc1879e43f4d9d8201a';

const post = (extra: Record<string, unknown>) => ({
  resource_id: uuid,
  timestamp: String(timestamp),
  ...user,
  app: 'acme',
  'nav-data': 'x',
  ...extra,
});

test("accepts the contract's worked user_scoped_resource_token, beside its resource_token or alone", () => {
  for (const extra of [{ resource_token: resourceToken }, {}]) {
    const verdict = verifySsoPost(
      post({ user_scoped_resource_token: userScopedToken, ...extra }),
      salt,
      timestamp + 10,
    );
    assert.equal(verdict.ok, true);
    if (verdict.ok)
      assert.deepEqual(
        [verdict.claims.resourceId, verdict.claims.userId, verdict.claims.email],
        [uuid, user.user_id, user.email],
      );
  }
});

test('refuses the resource_token alone: it does not cover the user, so any user could be named', () => {
  const verdict = verifySsoPost(post({ resource_token: resourceToken }), salt, timestamp);
  assert.deepEqual(verdict, {
    ok: false,
    reason: 'no user-scoped sign-on token: a resource token alone does not say who signs in',
  });
  const swapped = verifySsoPost(
    post({
      resource_token: resourceToken,
      user_id: '0a1b2c3d-0000-4000-8000-000000000001',
      email: 'admin@example.com',
    }),
    salt,
    timestamp,
  );
  assert.equal(swapped.ok, false);
});

test('accepts an upper-case token, and names it in lower case so a replay in another case is the same token', () => {
  const verdict = verifySsoPost(post({ user_scoped_resource_token: userScopedToken.toUpperCase() }), salt, timestamp);
  assert.equal(verdict.ok, true);
  if (verdict.ok) assert.equal(verdict.claims.token, userScopedToken);
});

test('prefers the user-scoped token: a wrong one fails even beside a right resource_token', () => {
  const verdict = verifySsoPost(
    post({ resource_token: resourceToken, user_scoped_resource_token: 'f'.repeat(64) }),
    salt,
    timestamp,
  );
  assert.equal(verdict.ok, false);
});

test('binds the user-scoped token to the user: another email fails', () => {
  assert.equal(
    verifySsoPost(post({ user_scoped_resource_token: userScopedToken, email: 'other@example.com' }), salt, timestamp)
      .ok,
    false,
  );
});

for (const [label, token] of [
  ['a wrong token', 'a'.repeat(64)],
  ['a non-hex token', 'z'.repeat(64)],
  ['a short token', userScopedToken.slice(0, 63)],
  ['a long token', userScopedToken + '0'],
  ['an empty token', ''],
  ['a token with unicode', 'é'.repeat(64)],
]) {
  test(`refuses ${label} without throwing`, () => {
    assert.equal(verifySsoPost(post({ user_scoped_resource_token: token }), salt, timestamp).ok, false);
  });
}

test('refuses malformed posts of every kind without throwing', () => {
  for (const body of [
    undefined,
    null,
    'text',
    [],
    {},
    post({ resource_id: 'nope', user_scoped_resource_token: userScopedToken }),
    post({ timestamp: 'soon', user_scoped_resource_token: userScopedToken }),
    post({ user_scoped_resource_token: ['a'] }),
    post({ user_id: undefined, user_scoped_resource_token: userScopedToken }),
  ]) {
    assert.equal(verifySsoPost(body, salt, timestamp).ok, false);
  }
});

test('refuses a token older than 5 minutes and accepts one just inside', () => {
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt, timestamp + 300).ok, true);
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt, timestamp + 301).ok, false);
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt, timestamp + 360).ok, false);
});

test('accepts a token from up to 5 minutes in the future (clock skew) and refuses one from further ahead', () => {
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt, timestamp - 60).ok, true);
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt, timestamp - 300).ok, true);
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt, timestamp - 301).ok, false);
});

test('remembers a used token for longer than it can be accepted, whatever our clock says', () => {
  // Accepted from 5 minutes before its timestamp to 5 minutes after: a replay window of 10 minutes.
  assert.ok(SSO_TOKEN_USE_RETENTION_SECONDS > SSO_MAX_FUTURE_SECONDS + SSO_MAX_AGE_SECONDS);
});

test('refuses a token made with another salt', () => {
  assert.equal(verifySsoPost(post({ user_scoped_resource_token: userScopedToken }), salt + 'x', timestamp).ok, false);
});
