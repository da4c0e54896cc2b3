import { timingSafeEqual } from 'node:crypto';

/** Compares a secret someone sent with the one we hold, in time that does not depend on where they differ. */
export function sameSecret(sent: string, held: string): boolean {
  const left = Buffer.from(sent);
  const right = Buffer.from(held);
  return left.length === right.length && timingSafeEqual(left, right);
}
