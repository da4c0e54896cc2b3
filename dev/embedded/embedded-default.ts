import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { loadOrCreateDevSecrets } from './dev-secrets.ts';
import { startEmbeddedPostgres } from './embedded-postgres.ts';
import { DEFAULT_DEMO_DATA_MB, ensureDemoDatabase } from './demo-data.ts';
import { dropLeftoverSimulatorDatabases } from './leftover-databases.ts';
import { startHerokuSimulator } from '../simulator/index.ts';

/** What `npm start` needs to run with no configuration. */
export interface EmbeddedDefault {
  env: Record<string, string | undefined>;
  banner: string;
  stop(): Promise<void>;
}

/** The demo's Heroku app: it owns the sample database, attached as DATABASE_URL. */
export const DEMO_APP = 'demo-shop';
/** The "Connect Heroku" OAuth client the simulator knows; its secret is in the development secrets. */
const CONNECT_CLIENT_ID = 'big-backup-connect-dev';

/**
 * The embedded default, for trying big-backup on a laptop: our database on an embedded PostgreSQL,
 * development secrets, and the Heroku simulator playing Heroku (the real one cannot call a laptop).
 * The simulator's demo app has a Heroku Postgres database full of sample data on the same cluster,
 * and knows our "Connect Heroku" client, so a fork-based backup works from the first click.
 * Values already in `base` win, so any of them can still be set by hand.
 */
export async function startEmbeddedDefault(
  dataDir: string,
  base: Record<string, string | undefined>,
  log: { info(line: string): void; warn(line: string): void },
): Promise<EmbeddedDefault> {
  const secrets = loadOrCreateDevSecrets(dataDir);
  const { cluster, databaseUrl, choice } = await startEmbeddedPostgres(
    dataDir,
    secrets.postgresPassword,
    base.PG_BIN_DIR ? { pgBinDir: base.PG_BIN_DIR } : {},
  );
  if (choice.warning) log.warn(choice.warning);
  const port = Number(base.PORT ?? 5000);
  const publicUrl = base.PUBLIC_URL ?? `http://localhost:${port}`;
  // Anything that fails from here on must not leave PostgreSQL running on the data folder.
  const simulator = await (async () => {
    const leftovers = await dropLeftoverSimulatorDatabases(cluster.url);
    if (leftovers.length > 0)
      log.info(`dropped ${leftovers.length} database(s) an earlier simulator left behind: ${leftovers.join(', ')}`);
    const demo = await ensureDemoDatabase(
      cluster.url,
      Number(base.BIG_BACKUP_DEMO_DATA_MB ?? DEFAULT_DEMO_DATA_MB),
      (line) => log.info(line),
    );
    const sim = await startHerokuSimulator({
      port: Number(base.SIM_PORT ?? port + 1),
      addon: {
        id: 'big-backup',
        password: secrets.addonPassword,
        ssoSalt: secrets.ssoSalt,
        baseUrl: `${publicUrl}/heroku/resources`,
        ssoUrl: `${publicUrl}/sso/login`,
      },
      oauthClientSecret: secrets.oauthClientSecret,
      oauthClients: [
        {
          id: CONNECT_CLIENT_ID,
          secret: secrets.connectClientSecret,
          redirectUri: `${publicUrl}/connect/heroku/callback`,
          name: 'big-backup (Connect Heroku)',
        },
      ],
      // Heroku Postgres add-ons and forks the simulator makes become databases on the embedded cluster.
      postgres: { adminUrl: cluster.url, ...(base.PG_BIN_DIR ? { binDir: base.PG_BIN_DIR } : {}) },
      consoleApp: DEMO_APP,
    });
    sim.attachPostgres(DEMO_APP, { url: demo.url, plan: 'standard-0', as: 'DATABASE' });
    return sim;
  })().catch(async (error: unknown) => {
    await cluster.stop().catch(() => {});
    throw error;
  });
  const env = {
    NODE_ENV: 'development',
    HEROKU_ADDON_PASSWORD: secrets.addonPassword,
    HEROKU_SSO_SALT: secrets.ssoSalt,
    HEROKU_OAUTH_CLIENT_SECRET: secrets.oauthClientSecret,
    HEROKU_CONNECT_CLIENT_ID: CONNECT_CLIENT_ID,
    HEROKU_CONNECT_CLIENT_SECRET: secrets.connectClientSecret,
    SESSION_SECRET: secrets.sessionSecret,
    ENCRYPTION_KEY: secrets.encryptionKey,
    HEROKU_API_URL: simulator.url,
    HEROKU_OAUTH_URL: simulator.url,
    PUBLIC_URL: publicUrl,
    STORAGE_URL: pathToFileURL(path.join(dataDir, 'archives')).toString(),
    // The simulator's forks are ready in seconds; look at them often so the demo does not wait.
    FORK_POLL_INTERVAL_SECONDS: '1',
    // The demo's databases and the simulator's forks live on the embedded cluster, on loopback.
    ALLOW_PRIVATE_DATABASE_HOSTS: 'true',
    ...base,
    DATABASE_URL: databaseUrl,
  };
  const banner = [
    '',
    `big-backup is running on its embedded default (development only; PostgreSQL ${choice.server.major} from ${choice.server.binDir}).`,
    `  dashboard:        ${publicUrl}/dashboard`,
    `  Heroku simulator: ${simulator.url}/`,
    '',
    `Demo: open ${simulator.url}/ , press "heroku addons:create big-backup" (app ${DEMO_APP}, whose DATABASE_URL is a sample database),`,
    '  then "Open dashboard (SSO)", "Connect Heroku" under Settings, and "Capture now": the backup runs against a fork.',
    ...(choice.warning ? [`  ${choice.warning}`] : []),
    `Data and development secrets live in ${shownPath(dataDir)}/ ; stop with Ctrl-C.`,
    '',
  ].join('\n');
  return {
    env,
    banner,
    async stop() {
      try {
        await simulator.stop();
      } finally {
        await cluster.stop();
      }
    },
  };
}

/** A folder as a person would type it: relative when inside the current one. */
function shownPath(dir: string): string {
  const relative = path.relative(process.cwd(), dir);
  return relative === '' ? '.' : relative.startsWith('..') || path.isAbsolute(relative) ? dir : relative;
}
