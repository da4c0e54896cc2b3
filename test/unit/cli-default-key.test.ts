import assert from 'node:assert/strict';
import { test } from 'node:test';
import { defaultKey } from '../../src/cli/capture-command.ts';
import { assertValidKey } from '../../src/storage/keys.ts';

test('two captures of one database started in the same second get different keys that sort by time', () => {
  const at = new Date('2026-12-02T17:30:12.345Z');
  const keys = new Set(Array.from({ length: 50 }, () => defaultKey('shop', at, '.dump')));
  assert.equal(keys.size, 50);
  for (const key of keys) {
    assert.match(key, /^big-backup\/shop\/20261202T173012Z-[0-9a-f]{8}\.dump$/);
    assertValidKey(key);
  }
  assert.ok(
    defaultKey('shop', new Date('2026-12-02T17:30:13Z'), '.dump') > [...keys].sort().at(-1)!,
    'a later second sorts after',
  );
});

test('a database name that is not a valid key segment is made into one', () => {
  assertValidKey(defaultKey('../we ird/€name', new Date(), '.dump.zst'));
  assert.match(defaultKey('///', new Date(), '.dump'), /^big-backup\/database\//);
});
