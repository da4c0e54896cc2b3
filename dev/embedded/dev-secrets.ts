import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

/** Secrets for a development run on the embedded default; generated once, kept 0600 under the data folder. */
export interface DevSecrets {
  postgresPassword: string;
  addonPassword: string;
  ssoSalt: string;
  oauthClientSecret: string;
  sessionSecret: string;
  encryptionKey: string;
}

/** Reads the data folder's development secrets, creating them on first use. Never used when DATABASE_URL is set. */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
  mkdirSync(dataDir, { recursive: true });
  const secrets: DevSecrets = {
    postgresPassword: randomBytes(18).toString('base64url'),
    addonPassword: randomBytes(24).toString('base64url'),
    ssoSalt: randomBytes(24).toString('hex'),
    oauthClientSecret: randomBytes(24).toString('base64url'),
    sessionSecret: randomBytes(32).toString('hex'),
    encryptionKey: randomBytes(32).toString('base64'),
  };
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return secrets;
}
