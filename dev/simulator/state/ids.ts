import { createHash, randomBytes, randomInt, randomUUID } from 'node:crypto';

const ADJECTIVES = [
  'curved',
  'silent',
  'amber',
  'brisk',
  'cobalt',
  'dusky',
  'gentle',
  'lively',
  'polar',
  'rugged',
  'serene',
  'tidy',
];
const NOUNS = ['river', 'meadow', 'canyon', 'harbor', 'summit', 'forest', 'dune', 'glacier'];

/** A fresh v4 uuid. */
export const newId = (): string => randomUUID();

/** A uuid derived from a string, so catalogue objects (plans, the service) keep one id per run. */
export function stableId(seed: string): string {
  const hex = createHash('sha1').update(seed).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-a${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/** An OAuth token in Heroku's current format (`HRKU-` + uuid-like body). */
export const newToken = (): string => `HRKU-${randomUUID()}`;

/** A short random hex string (session nonces). */
export const newNonce = (): string => randomBytes(8).toString('hex');

/** Heroku-style add-on name, e.g. `big-backup-curved-12345`. */
export function newAddonName(serviceId: string): string {
  return `${serviceId}-${pick(ADJECTIVES)}-${randomInt(10_000, 100_000)}`;
}

/** Heroku-style app name, e.g. `serene-river-12345`. */
export function newAppName(): string {
  return `${pick(ADJECTIVES)}-${pick(NOUNS)}-${randomInt(10_000, 100_000)}`;
}

function pick<T>(items: readonly T[]): T {
  return items[randomInt(items.length)] as T;
}
