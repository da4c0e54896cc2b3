import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Express } from 'express';
import type { PgBoss } from 'pg-boss';
import { createBoss } from '../queue/boss.ts';
import { createApp } from '../http/app.ts';
import { openObjectStore } from '../storage/open-object-store.ts';
import { storageUrl } from './storage-url.ts';
import type { RateLimits } from '../http/rate-limits.ts';
import type { Runtime } from './runtime.ts';

/** A running web process. */
export interface WebProcess {
  server: Server;
  /** The Express application being served (its router stack lists every route). */
  app: Express;
  /** The web's send-only pg-boss. */
  boss: PgBoss;
  port: number;
  stop(): Promise<void>;
}

/** How long requests in flight get to finish at shutdown. */
const DRAIN_MS = 20_000;

/**
 * Serves HTTP. Its pg-boss only sends jobs: no supervision, no cron, no migrations (pg-boss's proxy
 * pattern), so any number of web dynos add no maintenance load.
 */
export async function startWeb(
  runtime: Runtime,
  options: { port?: number; host?: string; nowSeconds?: () => number; drainMs?: number; rateLimits?: RateLimits } = {},
): Promise<WebProcess> {
  const { config, logger, pool, secrets } = runtime;
  const store = await openObjectStore(storageUrl(config), config.AWS);
  const boss = createBoss(config.DATABASE_URL, 'web');
  boss.on('error', (error: Error) => logger.error({ err: error }, 'pg-boss error (web)'));
  await boss.start();
  const app = createApp({
    config,
    pool,
    boss,
    logger,
    secrets,
    store,
    ...(options.nowSeconds ? { nowSeconds: options.nowSeconds } : {}),
    ...(options.rateLimits ? { rateLimits: options.rateLimits } : {}),
  });
  // Express 5 hands a listen failure (EADDRINUSE) to this callback rather than throwing it.
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(options.port ?? config.PORT, options.host ?? '0.0.0.0', (error?: Error) =>
      error ? reject(error) : resolve(s),
    );
  }).catch(async (error: unknown) => {
    await boss.stop({ graceful: false, close: true }).catch(() => {});
    await store.close().catch(() => {});
    throw error;
  });
  // Heroku's router gives a request 30 s; keep-alive must outlive its idle timeout.
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  const port = (server.address() as AddressInfo).port;
  logger.info({ port }, 'web listening');
  return {
    server,
    app,
    port,
    boss,
    async stop() {
      // Requests in flight (a provision call, a sign-on) may finish; idle keep-alive connections go
      // now, and whatever is still open after the drain time is cut, well inside Heroku's 30 s.
      // A connection that answered its last request goes at the next sweep, not when its client
      // (or Heroku's router) gets round to closing it.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const sweep = setInterval(() => server.closeIdleConnections(), 100);
      const cut = setTimeout(() => server.closeAllConnections(), options.drainMs ?? DRAIN_MS);
      await closed;
      clearInterval(sweep);
      clearTimeout(cut);
      await boss.stop({ graceful: false, close: true });
      await store.close();
    },
  };
}
