import net from 'node:net';
import { Transform, pipeline } from 'node:stream';

/** A TCP proxy on loopback; `url` rewrites a database URL to go through it. */
export interface ThrottlingProxy {
  readonly port: number;
  /** `databaseUrl` with its port replaced by the proxy's. */
  url(databaseUrl: string): string;
  close(): Promise<void>;
}

/**
 * A TCP proxy in front of a server that passes at most `bytesPerSecond` from the server to each client,
 * so a small database dumps slowly: a slow source, as a far or overloaded server would be. Nothing in
 * the product is slowed.
 */
export async function startThrottlingProxy(targetPort: number, bytesPerSecond: number): Promise<ThrottlingProxy> {
  const sockets = new Set<net.Socket>();
  const proxyServer = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    const throttle = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        setTimeout(() => done(null, chunk), (chunk.length / bytesPerSecond) * 1000);
      },
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.pipe(upstream);
    pipeline(upstream, throttle, client, () => {
      client.destroy();
      upstream.destroy();
    });
  });
  await new Promise<void>((resolve) => proxyServer.listen(0, '127.0.0.1', resolve));
  const port = (proxyServer.address() as net.AddressInfo).port;
  return {
    port,
    url(databaseUrl) {
      const parsed = new URL(databaseUrl);
      parsed.port = String(port);
      return parsed.toString();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        proxyServer.close(() => resolve());
      }),
  };
}
