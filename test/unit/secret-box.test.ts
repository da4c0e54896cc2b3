import test from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { SecretBox } from '../../src/crypto/secret-box.ts';

const key = () => randomBytes(32).toString('base64');

test('round-trips a secret without leaving it readable', () => {
  const box = new SecretBox([key()]);
  const sealed = box.seal('HRKU-secret-token', 'resource-a', 'access_token');
  assert.ok(!sealed.includes('HRKU'));
  assert.equal(box.open(sealed, 'resource-a', 'access_token'), 'HRKU-secret-token');
});

test('refuses a ciphertext moved to another tenant or column', () => {
  const box = new SecretBox([key()]);
  const sealed = box.seal('postgres://u:p@h/db', 'resource-a', 'source_url');
  assert.throws(() => box.open(sealed, 'resource-b', 'source_url'), /failed authentication/);
  assert.throws(() => box.open(sealed, 'resource-a', 'access_token'), /failed authentication/);
});

test('detects tampering', () => {
  const box = new SecretBox([key()]);
  const parts = box.seal('secret', 'r', 'c').split('.');
  const body = Buffer.from(parts[3]!, 'base64url');
  body[0] = body[0]! ^ 1;
  parts[3] = body.toString('base64url');
  assert.throws(() => box.open(parts.join('.'), 'r', 'c'));
});

test('uses a fresh nonce every time', () => {
  const box = new SecretBox([key()]);
  assert.notEqual(box.seal('same', 'r', 'c'), box.seal('same', 'r', 'c'));
});

test('opens values sealed by an older key after rotation and flags them for re-sealing', () => {
  const oldKey = key();
  const sealedBefore = new SecretBox([oldKey]).seal('token', 'r', 'c');
  const rotated = new SecretBox([key(), oldKey]);
  assert.equal(rotated.open(sealedBefore, 'r', 'c'), 'token');
  assert.equal(rotated.needsRotation(sealedBefore), true);
  assert.equal(rotated.needsRotation(rotated.seal('token', 'r', 'c')), false);
});

test('re-seals a value under the newest key, and names every configured key in order', () => {
  const [oldKey, newKey] = [key(), key()];
  const sealedBefore = new SecretBox([oldKey]).seal('token', 'r', 'c');
  const rotated = new SecretBox([newKey, oldKey]);
  assert.equal(rotated.keyIds.length, 2);
  assert.equal(rotated.keyIds[0], rotated.currentKeyId);
  assert.equal(sealedBefore.split('.')[1], rotated.keyIds[1]);
  const resealed = rotated.reseal(sealedBefore, 'r', 'c');
  assert.equal(rotated.needsRotation(resealed), false);
  assert.equal(new SecretBox([newKey]).open(resealed, 'r', 'c'), 'token', 'opens once the old key is gone');
  assert.throws(() => rotated.reseal(sealedBefore, 'other-owner', 'c'), /failed authentication/);
});

test('says which key is missing when a value was sealed by a key no longer configured', () => {
  const sealed = new SecretBox([key()]).seal('token', 'r', 'c');
  assert.throws(() => new SecretBox([key()]).open(sealed, 'r', 'c'), /unknown key/);
});
