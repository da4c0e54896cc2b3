// Runs the Heroku simulator as its own process: `npm run simulator` (dev/bin/simulator.ts).
// Reads its settings straight from the environment because it is a development tool, not part of
// the add-on's runtime config (which only src/config.ts reads).
import { startHerokuSimulator } from '../simulator/index.ts';

const env = process.env;
const missing = ['HEROKU_ADDON_PASSWORD', 'HEROKU_SSO_SALT', 'HEROKU_OAUTH_CLIENT_SECRET'].filter((name) => !env[name]);
if (missing.length > 0) {
  console.error(`heroku simulator: set ${missing.join(', ')} (the same values the provider uses)`);
  process.exit(1);
}

const providerUrl = (env.PROVIDER_URL ?? 'http://localhost:5000').replace(/\/+$/, '');
const sim = await startHerokuSimulator({
  port: Number(env.SIM_PORT ?? 5001),
  host: env.SIM_HOST ?? '127.0.0.1',
  addon: {
    id: env.HEROKU_ADDON_ID ?? 'big-backup',
    password: env.HEROKU_ADDON_PASSWORD as string,
    ssoSalt: env.HEROKU_SSO_SALT as string,
    baseUrl: `${providerUrl}/heroku/resources`,
    ssoUrl: `${providerUrl}/sso/login`,
  },
  oauthClientSecret: env.HEROKU_OAUTH_CLIENT_SECRET as string,
});

console.log(`heroku simulator listening on ${sim.url} (provider ${providerUrl})`);
console.log(`  give the provider HEROKU_API_URL=${sim.url} HEROKU_OAUTH_URL=${sim.url}`);
console.log(`  open ${sim.url}/ to provision a demo add-on and sign in to its dashboard`);

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (stopping) process.exit(1); // a second signal forces the exit
    stopping = true;
    void sim.stop().then(() => process.exit(0));
  });
}
