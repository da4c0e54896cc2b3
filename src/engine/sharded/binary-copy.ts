/** The signature opening every `COPY ... TO STDOUT (FORMAT binary)` (copy.c: BinarySignature). */
const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/**
 * The one value of a binary COPY of one row of one non-null column: the bytes themselves, as the
 * server holds them (a view into `copy`). Anything else in the framing (signature, flags, field
 * count, length, trailer) throws: a slice of a large object must be exactly what the server sent.
 */
export function singleBinaryValue(copy: Buffer): Buffer {
  if (copy.length < 19 || !copy.subarray(0, 11).equals(SIGNATURE)) throw new Error('not a binary COPY');
  if (copy.readUInt32BE(11) !== 0) throw new Error('a binary COPY with flags (OIDs) set');
  let at = 19 + copy.readUInt32BE(15);
  if (at + 6 > copy.length || copy.readInt16BE(at) !== 1) throw new Error('a binary COPY not of one row of one column');
  const length = copy.readInt32BE(at + 2);
  if (length < 0) throw new Error('a binary COPY of a NULL');
  at += 6;
  if (at + length + 2 !== copy.length || copy.readInt16BE(at + length) !== -1)
    throw new Error('a binary COPY whose length does not match its value');
  return copy.subarray(at, at + length);
}
