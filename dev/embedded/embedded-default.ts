import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { startHerokuSimulator } from '../simulator/index.ts';

/** What `npm start` needs to run with no configuration. */
export interface EmbeddedDefault {
  env: Record<string, string | undefined>;
  banner: string;
  stop(): Promise<void>;
}

/**
 * The embedded default, for trying big-backup on a laptop: our database on an embedded PostgreSQL,
 * development secrets, and the Heroku simulator playing Heroku (the real one cannot call a laptop).
 * Values already in `base` win, so any of them can still be set by hand.
 */
export async function startEmbeddedDefault(dataDir: string, base: Record<string, string | undefined>): Promise<EmbeddedDefault> {
  const secrets = loadOrCreateDevSecrets(dataDir);
  const { cluster, databaseUrl } = await startEmbeddedPostgres(dataDir, secrets.postgresPassword);
  const port = Number(base.PORT ?? 5000);
  const publicUrl = base.PUBLIC_URL ?? `http://localhost:${port}`;
  // A simulator that cannot start (its port taken) must not leave PostgreSQL running on the data folder.
  const simulator = await startHerokuSimulator({
    port: Number(base.SIM_PORT ?? port + 1),
    addon: {
      id: 'big-backup', password: secrets.addonPassword, ssoSalt: secrets.ssoSalt,
      baseUrl: `${publicUrl}/heroku/resources`, ssoUrl: `${publicUrl}/sso/login`,
    },
    oauthClientSecret: secrets.oauthClientSecret,
  }).catch(async (error: unknown) => { await cluster.stop().catch(() => {}); throw error; });
  const env = {
    NODE_ENV: 'development',
    HEROKU_ADDON_PASSWORD: secrets.addonPassword,
    HEROKU_SSO_SALT: secrets.ssoSalt,
    HEROKU_OAUTH_CLIENT_SECRET: secrets.oauthClientSecret,
    SESSION_SECRET: secrets.sessionSecret,
    ENCRYPTION_KEY: secrets.encryptionKey,
    HEROKU_API_URL: simulator.url,
    HEROKU_OAUTH_URL: simulator.url,
    PUBLIC_URL: publicUrl,
    STORAGE_URL: pathToFileURL(path.join(dataDir, 'archives')).toString(),
    ...base,
    DATABASE_URL: databaseUrl,
  };
  const banner = [
    '',
    'big-backup is running on its embedded default (development only).',
    `  dashboard:        ${publicUrl}/dashboard`,
    `  Heroku simulator: ${simulator.url}/`,
    '',
    `Demo: open ${simulator.url}/ , press "heroku addons:create big-backup", then "Open dashboard (SSO)".`,
    'Data and development secrets live in .data/ ; stop with Ctrl-C.',
    '',
  ].join('\n');
  return {
    env, banner,
    async stop() {
      try {
        await simulator.stop();
      } finally {
        await cluster.stop();
      }
    },
  };
}
