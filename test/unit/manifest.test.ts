import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';

// The manifest checks kensa ran (heroku-contract.md §8.1), plus the issue's own requirements.
const manifest = JSON.parse(readFileSync(new URL('../../addon-manifest.json', import.meta.url), 'utf8'));

test('names the add-on big-backup with a non-empty string id', () => {
  assert.equal(manifest.id, 'big-backup');
});

test('has an api object on version 3 without the deprecated username', () => {
  assert.equal(typeof manifest.api, 'object');
  assert.equal(manifest.api.version, '3');
  assert.equal('username' in manifest.api, false);
});

test('lists regions including us, all of them known to Heroku', () => {
  assert.ok(Array.isArray(manifest.api.regions));
  assert.ok(manifest.api.regions.includes('us') || manifest.api.regions.includes('*'));
  for (const region of manifest.api.regions)
    assert.ok(['us', 'eu', 'frankfurt', 'oregon', 'tokyo', 'virginia', '*'].includes(region), region);
});

test('has a non-empty password and sso salt that are placeholders, not secrets', () => {
  assert.ok(manifest.api.password.length >= 8 && manifest.api.password.length <= 72);
  assert.ok(manifest.api.sso_salt.length > 0);
  assert.match(manifest.api.password, /never-committed/);
});

test('has https production URLs and localhost:5000 test URLs on the right routes', () => {
  for (const key of ['base_url', 'sso_url']) assert.match(manifest.api.production[key], /^https:/);
  assert.equal(new URL(manifest.api.production.base_url).pathname, '/heroku/resources');
  assert.equal(new URL(manifest.api.production.sso_url).pathname, '/sso/login');
  assert.equal(manifest.api.test.base_url, 'http://localhost:5000/heroku/resources');
  assert.equal(manifest.api.test.sso_url, 'http://localhost:5000/sso/login');
});

test('declares only BIG_BACKUP_ prefixed config vars of the right shape', () => {
  assert.equal(manifest.api.config_vars_prefix, 'BIG_BACKUP');
  assert.deepEqual(manifest.api.config_vars, ['BIG_BACKUP_URL']);
  for (const name of manifest.api.config_vars) {
    assert.match(name, /^[A-Z][0-9A-Z_]+$/);
    assert.ok(name.startsWith(`${manifest.api.config_vars_prefix}_`));
  }
});
