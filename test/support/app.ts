import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { Writable } from 'node:stream';
import { after } from 'node:test';
import type { Express } from 'express';
import type { PgBoss } from 'pg-boss';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { createRuntime, type Runtime } from '../../src/processes/runtime.ts';
import { startWeb } from '../../src/processes/web-process.ts';
import { startWorker } from '../../src/processes/worker-process.ts';
import type { RateLimits } from '../../src/http/rate-limits.ts';
import { cloneTemplateDatabase } from './database.ts';
import { freePort } from '../../dev/db/local-cluster.ts';

/** Secrets for one test app; random so no test can pass by accident on a constant. */
export function testSecrets() {
  return {
    HEROKU_ADDON_PASSWORD: 'pw-' + randomBytes(12).toString('hex'),
    HEROKU_SSO_SALT: 'salt-' + randomBytes(16).toString('hex'),
    HEROKU_OAUTH_CLIENT_SECRET: 'client-secret-' + randomBytes(12).toString('hex'),
    SESSION_SECRET: randomBytes(32).toString('hex'),
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
  };
}

/** Every log line the app wrote, so tests can assert that no secret ever reached the logs. */
export class LogCapture extends Writable {
  readonly lines: string[] = [];
  override _write(chunk: Buffer, _enc: string, done: () => void) {
    this.lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
    done();
  }
  text(): string {
    return this.lines.join('\n');
  }
}

export interface TestApp {
  url: string;
  config: Config;
  runtime: Runtime;
  /** The web process's send-only pg-boss, for calling services as the web process does. */
  boss: PgBoss;
  /** The Express application the web process serves. */
  express: Express;
  logs: LogCapture;
  /** Starts the worker (jobs) in this process. */
  startWorker(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Starts the web process in-process on a random loopback port against a fresh database; stopped when
 * the test file ends. `env` overrides configuration (e.g. the simulator's URLs). Call it at the top
 * level of a test file (top-level await): an `after` hook registered inside `before` would run at once.
 */
export async function startTestApp(
  env: Record<string, string> = {},
  options: { nowSeconds?: () => number; databaseUrl?: string; port?: number; rateLimits?: RateLimits } = {},
): Promise<TestApp> {
  // A database of its own unless given one, dropped once the app has stopped (see cloneTemplateDatabase).
  const ownDatabase = options.databaseUrl ? undefined : await cloneTemplateDatabase('app');
  const databaseUrl = options.databaseUrl ?? ownDatabase!.url;
  const port = options.port ?? (await freePort());
  // A folder of archives of its own unless the test names a store, removed once the app has stopped.
  const archives = env.STORAGE_URL ? undefined : mkdtempSync(path.join(os.tmpdir(), 'bb-archives-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    DATABASE_URL: databaseUrl,
    PUBLIC_URL: `http://127.0.0.1:${port}`,
    LOG_LEVEL: 'debug',
    HEROKU_API_URL: 'http://127.0.0.1:9',
    HEROKU_OAUTH_URL: 'http://127.0.0.1:9',
    ...(archives ? { STORAGE_URL: pathToFileURL(archives).toString() } : {}),
    // The tests' databases run on loopback.
    ALLOW_PRIVATE_DATABASE_HOSTS: 'true',
    ...testSecrets(),
    ...env,
  });
  const logs = new LogCapture();
  const logger = createLogger({ level: config.LOG_LEVEL, destination: logs });
  const runtime = createRuntime(config, logger, 5);
  const web = await startWeb(runtime, {
    port,
    host: '127.0.0.1',
    ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
  });
  const url = `http://127.0.0.1:${web.port}`;
  const stops: Array<() => Promise<void>> = [() => web.stop()];
  let stopping: Promise<void> | undefined;
  const app: TestApp = {
    url,
    config,
    runtime,
    logs,
    boss: web.boss,
    express: web.app,
    async startWorker() {
      const worker = await startWorker(runtime, { pollingIntervalSeconds: 0.5, cancelPollMs: 250 });
      stops.unshift(() => worker.stop());
    },
    stop() {
      stopping ??= (async () => {
        for (const stop of stops.splice(0)) await stop();
        await runtime.pool.end();
        await ownDatabase?.drop();
        if (archives) rmSync(archives, { recursive: true, force: true });
      })();
      return stopping;
    },
  };
  after(() => app.stop());
  return app;
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function eventually<T>(
  check: () => Promise<T | undefined | null | false>,
  { timeoutMs = 10_000, intervalMs = 100, what = 'condition' } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
