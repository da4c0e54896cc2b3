import test from 'node:test';
import assert from 'node:assert/strict';
import { parseSize } from '../../src/cli/args.ts';

test('--split-size reads binary units', () => {
  assert.equal(parseSize('8MB'), 8 * 1024 ** 2);
  assert.equal(parseSize('512MiB'), 512 * 1024 ** 2);
  assert.equal(parseSize('1g'), 1024 ** 3);
  assert.equal(parseSize('1.5GB'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('1048576'), 1024 ** 2);
  assert.equal(parseSize('8 bananas'), null);
});
