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
  /** The "Connect Heroku" OAuth client's secret, registered with the simulator. */
  connectClientSecret: string;
}

function generate(): DevSecrets {
  return {
    postgresPassword: randomBytes(18).toString('base64url'),
    addonPassword: randomBytes(24).toString('base64url'),
    ssoSalt: randomBytes(24).toString('hex'),
    oauthClientSecret: randomBytes(24).toString('base64url'),
    sessionSecret: randomBytes(32).toString('hex'),
    encryptionKey: randomBytes(32).toString('base64'),
    connectClientSecret: randomBytes(24).toString('base64url'),
  };
}

/**
 * Reads the data folder's development secrets, creating them on first use; a file from an older
 * version gains the secrets it lacks and keeps the rest. Never used when DATABASE_URL is set.
 */
export function loadOrCreateDevSecrets(dataDir: string): DevSecrets {
  const file = path.join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const stored = JSON.parse(readFileSync(file, 'utf8')) as Partial<DevSecrets>;
    const secrets = { ...generate(), ...stored };
    if (Object.keys(secrets).length > Object.keys(stored).length)
      writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600 });
    return secrets;
  }
  mkdirSync(dataDir, { recursive: true });
  const secrets = generate();
  writeFileSync(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' });
  return secrets;
}
