/**
 * `npm run bench:list`: how fast the backups list answers for a resource with 10,000 backups. Starts a
 * throwaway stack the way the tests do (a PostgreSQL server with the migrated template, the Heroku
 * simulator, the web process in this process), provisions one resource, inserts 10,000 backups rows in
 * one statement, signs in through the simulator's SSO form, then times GET /dashboard (first, middle
 * and last page) and GET /api/v1/backups sequentially, after a warm-up, and prints median, p95 and max
 * per route with PASS/MISS of the p95 against 100 ms. A report, not a test: it exits 0 whatever the
 * numbers, and non-zero only when something crashed.
 *
 *   node bench/list-page.ts [--runs=30] [--warmup=5] [--view-cache=on|off]
 *
 * Views are cached as in production (NODE_ENV=production, which Heroku's Node buildpack sets);
 * --view-cache=off times what the tests see, where Express compiles each template on every request.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import pg from 'pg';
import { loadConfig } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { createRuntime } from '../src/processes/runtime.ts';
import { startWeb } from '../src/processes/web-process.ts';
import { startHerokuSimulator } from '../dev/simulator/index.ts';
import { freePort } from '../dev/db/local-cluster.ts';
import { globalSetup, globalTeardown } from '../test/support/global-setup.ts';
import { databaseUrl, TEMPLATE_DATABASE, testServerUrl } from '../test/support/database.ts';
import { testSecrets } from '../test/support/app.ts';
import { Browser } from '../test/support/stack.ts';
import { cleanup, cleanups, progress } from './cleanup.ts';

const BACKUPS = 10_000;
const BUDGET_MS = 100;
const USAGE = 'usage: node bench/list-page.ts [--runs=N (30)] [--warmup=N (5)] [--view-cache=on|off (on)]';

interface Options {
  runs: number;
  warmup: number;
  viewCache: boolean;
}

function parseOptions(argv: string[]): Options | 'help' {
  const options: Options = { runs: 30, warmup: 5, viewCache: true };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return 'help';
    const match = /^--(runs|warmup|view-cache)=(.+)$/.exec(arg);
    if (!match) throw new Error(`unknown argument ${arg}\n${USAGE}`);
    const [, name, value] = match as unknown as [string, string, string];
    if (name === 'view-cache') {
      if (value !== 'on' && value !== 'off') throw new Error(`--view-cache is on or off\n${USAGE}`);
      options.viewCache = value === 'on';
    } else {
      const n = Number(value);
      if (!Number.isInteger(n) || n < (name === 'runs' ? 1 : 0) || n > 10_000)
        throw new Error(`--${name} needs a whole number\n${USAGE}`);
      if (name === 'runs') options.runs = n;
      else options.warmup = n;
    }
  }
  return options;
}

interface Route {
  label: string;
  path: string;
  accept: string;
  expect: RegExp;
}

async function main(): Promise<number> {
  let options: Options | 'help';
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  // Express turns its view cache on from NODE_ENV when the app is created.
  process.env.NODE_ENV = options.viewCache ? 'production' : 'development';

  progress('starting PostgreSQL and migrating…');
  await globalSetup();
  cleanups.push(() => globalTeardown());
  const database = `bench_list_${process.pid}`;
  const admin = new pg.Client(testServerUrl());
  await admin.connect();
  await admin.query(`create database ${database} template ${TEMPLATE_DATABASE}`);
  await admin.end();

  const secrets = testSecrets();
  const port = await freePort();
  const publicUrl = `http://127.0.0.1:${port}`;
  const sim = await startHerokuSimulator({
    addon: {
      id: 'big-backup',
      password: secrets.HEROKU_ADDON_PASSWORD,
      ssoSalt: secrets.HEROKU_SSO_SALT,
      baseUrl: `${publicUrl}/heroku/resources`,
      ssoUrl: `${publicUrl}/sso/login`,
    },
    oauthClientSecret: secrets.HEROKU_OAUTH_CLIENT_SECRET,
  });
  cleanups.push(() => sim.stop());
  const storageDir = mkdtempSync(path.join(os.tmpdir(), 'bb-bench-list-'));
  cleanups.push(() => rmSync(storageDir, { recursive: true, force: true }));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl(database),
    PUBLIC_URL: publicUrl,
    LOG_LEVEL: 'warn',
    HEROKU_API_URL: sim.url,
    HEROKU_OAUTH_URL: sim.url,
    STORAGE_URL: pathToFileURL(storageDir).toString(),
    ...secrets,
  });
  const runtime = createRuntime(config, createLogger({ level: 'warn', destination: process.stderr }));
  cleanups.push(() => runtime.pool.end());
  const web = await startWeb(runtime, { port, host: '127.0.0.1' });
  cleanups.push(() => web.stop());

  const { uuid } = await sim.provision({ plan: 'standard' });
  const inserted = await runtime.pool.query(
    `insert into backups (id, resource_id, trigger, number, state, requested_by, created_at, started_at, finished_at, bytes, source_bytes)
     select gen_random_uuid(), $1, 'manual', n, 'failed', 'seed', now() - ($2 + 1 - n) * interval '1 minute', now() - ($2 + 1 - n) * interval '1 minute',
       now() - ($2 + 1 - n) * interval '1 minute' + interval '30 seconds', 1000 * n, 2000 * n
     from generate_series(1, $2::int) n`,
    [uuid, BACKUPS],
  );
  // Autovacuum would analyze the table within a minute of such an insert; do it now.
  await runtime.pool.query('analyze backups');
  progress(`inserted ${inserted.rowCount} backups`);

  const browser = new Browser(publicUrl);
  const signedIn = await browser.signIn(sim.ssoForm(uuid));
  if (signedIn.status !== 303) throw new Error(`sign-in answered ${signedIn.status}`);
  const pages = Math.ceil(BACKUPS / 50);
  const middle = Math.ceil(pages / 2);
  const routes: Route[] = [
    {
      label: 'GET /dashboard (page 1)',
      path: '/dashboard',
      accept: 'text/html',
      expect: new RegExp(`Page 1 of ${pages}<`),
    },
    {
      label: `GET /dashboard?page=${middle}`,
      path: `/dashboard?page=${middle}`,
      accept: 'text/html',
      expect: new RegExp(`Page ${middle} of ${pages}<`),
    },
    {
      label: `GET /dashboard?page=${pages} (last)`,
      path: `/dashboard?page=${pages}`,
      accept: 'text/html',
      expect: />b001</,
    },
    {
      label: 'GET /api/v1/backups',
      path: '/api/v1/backups',
      accept: 'application/json',
      expect: new RegExp(`"total":${BACKUPS}\\b`),
    },
  ];

  const time = async (route: Route): Promise<number> => {
    const started = performance.now();
    const response = await browser.request('GET', route.path, { headers: { accept: route.accept } });
    const body = await response.text();
    const ms = performance.now() - started;
    if (response.status !== 200 || !route.expect.test(body))
      throw new Error(`${route.label} answered ${response.status}: ${body.slice(0, 300)}`);
    return ms;
  };
  progress(
    `warming up (${options.warmup} requests per route), then ${options.runs} timed requests per route, interleaved…`,
  );
  for (let i = 0; i < options.warmup; i++) for (const route of routes) await time(route);
  const timings = new Map(routes.map((r) => [r, [] as number[]]));
  // Interleaved rounds, so a slow moment of the machine is shared by every route rather than one.
  for (let i = 0; i < options.runs; i++) for (const route of routes) timings.get(route)!.push(await time(route));

  const rows = routes.map((route) => {
    const sorted = [...timings.get(route)!].sort((a, b) => a - b);
    const p95 = sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)]!;
    return [route.label, median(sorted), p95, sorted.at(-1)!, p95 <= BUDGET_MS ? 'PASS' : 'MISS'] as const;
  });
  const width = Math.max(...rows.map((r) => r[0].length), 5);
  console.log(
    `\nbig-backup list pages: ${BACKUPS.toLocaleString('en-US')} backups on one resource, ${options.runs} requests per route after ${options.warmup} warm-up, one at a time`,
  );
  console.log(
    `node ${process.version}, ${os.cpus().length} CPUs, load ${os
      .loadavg()
      .map((l) => l.toFixed(2))
      .join(
        ' ',
      )}; view cache ${options.viewCache ? 'on (as in production)' : 'off (as in tests)'}; PostgreSQL and the app on this machine`,
  );
  console.log(`times are wall-clock ms from request to the last body byte; PASS when p95 <= ${BUDGET_MS} ms\n`);
  console.log(`${'route'.padEnd(width)}  ${'median'.padStart(7)}  ${'p95'.padStart(7)}  ${'max'.padStart(7)}  budget`);
  for (const [label, med, p95, max, verdict] of rows) {
    console.log(
      `${label.padEnd(width)}  ${med.toFixed(1).padStart(7)}  ${p95.toFixed(1).padStart(7)}  ${max.toFixed(1).padStart(7)}  ${verdict}`,
    );
  }
  return 0;
}

function median(sorted: number[]): number {
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

let code = 1;
try {
  code = await main();
} catch (error) {
  process.stderr.write(`bench:list crashed: ${(error as Error).stack ?? String(error)}\n`);
  code = 1;
} finally {
  await cleanup();
}
process.exit(code);
