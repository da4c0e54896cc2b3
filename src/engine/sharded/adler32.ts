/**
 * Adler-32 as zlib computes it (adler32.c), for the sharded capture: each piece computes the checksum
 * of its own uncompressed bytes while it streams, and the block's zlib trailer combines them in
 * order (adler32Combine), since Node's zlib exposes crc32 but not Adler-32.
 */

const BASE = 65521;
/** The most bytes summed before the sums must be reduced: 255n(n+1)/2 + (n+1)(BASE-1) ≤ 2^32 - 1 (zlib's NMAX). */
const NMAX = 5552;

/** Continues `adler` (1 for nothing yet) over `data`. */
export function adler32(data: Uint8Array, adler = 1): number {
  let a = adler & 0xffff;
  let b = (adler >>> 16) & 0xffff;
  let i = 0;
  const length = data.length;
  while (i < length) {
    const end = Math.min(i + NMAX, length);
    // Unrolled by 8: the sums stay exact in 32 bits within NMAX bytes (zlib's DO16, shortened).
    const unrolled = end - ((end - i) % 8);
    while (i < unrolled) {
      a += data[i]!;
      b += a;
      a += data[i + 1]!;
      b += a;
      a += data[i + 2]!;
      b += a;
      a += data[i + 3]!;
      b += a;
      a += data[i + 4]!;
      b += a;
      a += data[i + 5]!;
      b += a;
      a += data[i + 6]!;
      b += a;
      a += data[i + 7]!;
      b += a;
      i += 8;
    }
    while (i < end) {
      a += data[i++]!;
      b += a;
    }
    a %= BASE;
    b %= BASE;
  }
  return ((b << 16) | a) >>> 0;
}

/**
 * The Adler-32 of A followed by B, from A's and B's checksums and B's length (zlib's
 * adler32_combine; lengths up to 2^53).
 */
export function adler32Combine(adler1: number, adler2: number, length2: number): number {
  if (!Number.isSafeInteger(length2) || length2 < 0) throw new RangeError(`length ${length2} is not valid`);
  const rem = length2 % BASE;
  let sum1 = adler1 & 0xffff;
  let sum2 = (rem * sum1) % BASE;
  sum1 += (adler2 & 0xffff) + BASE - 1;
  sum2 += ((adler1 >>> 16) & 0xffff) + ((adler2 >>> 16) & 0xffff) + BASE - rem;
  if (sum1 >= BASE) sum1 -= BASE;
  if (sum1 >= BASE) sum1 -= BASE;
  if (sum2 >= BASE * 2) sum2 -= BASE * 2;
  if (sum2 >= BASE) sum2 -= BASE;
  return (sum1 + sum2 * 65536) >>> 0;
}
