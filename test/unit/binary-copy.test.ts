import test from 'node:test';
import assert from 'node:assert/strict';
import { singleBinaryValue } from '../../src/engine/sharded/binary-copy.ts';

/** A binary COPY of one row of one column, as the server frames it (copy.c), with a header extension. */
function binaryCopy(value: Buffer | null, extension = Buffer.alloc(0)): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(0, 0);
  head.writeUInt32BE(extension.length, 4);
  const field = Buffer.alloc(6);
  field.writeInt16BE(1, 0);
  field.writeInt32BE(value === null ? -1 : value.length, 2);
  const trailer = Buffer.from([0xff, 0xff]);
  return Buffer.concat([
    Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1'),
    head,
    extension,
    field,
    value ?? Buffer.alloc(0),
    trailer,
  ]);
}

test('returns the one value of a binary COPY, empty or not, past any header extension', () => {
  const bytes = Buffer.from([0, 1, 2, 0xff, 0x0a, 0x5c]);
  assert.deepEqual(singleBinaryValue(binaryCopy(bytes)), bytes);
  assert.deepEqual(singleBinaryValue(binaryCopy(bytes, Buffer.from('ext'))), bytes);
  assert.equal(singleBinaryValue(binaryCopy(Buffer.alloc(0))).length, 0);
});

test('refuses a NULL, a wrong signature, flags, a cut or overlong value, and a missing trailer', () => {
  const good = binaryCopy(Buffer.from('abc'));
  assert.throws(() => singleBinaryValue(binaryCopy(null)), /NULL/);
  assert.throws(() => singleBinaryValue(Buffer.concat([Buffer.from('X'), good.subarray(1)])), /not a binary COPY/);
  const flagged = Buffer.from(good);
  flagged.writeUInt32BE(1 << 16, 11);
  assert.throws(() => singleBinaryValue(flagged), /flags/);
  assert.throws(() => singleBinaryValue(good.subarray(0, good.length - 1)), /length/);
  assert.throws(() => singleBinaryValue(Buffer.concat([good, Buffer.from([0])])), /length/);
  const twoColumns = Buffer.from(good);
  twoColumns.writeInt16BE(2, 19);
  assert.throws(() => singleBinaryValue(twoColumns), /one row of one column/);
});
