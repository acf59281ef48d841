// A TCP proxy between the app and a real server (Redis here) that a test or bench can cut and
// restore, so an outage is simulated without stopping the shared redis-server other runs use.
//
// cut() behaves like the server being killed: every open connection is closed (clients see the
// socket end, as after a crash) and new ones are refused (ECONNREFUSED) until restore() listens on
// the same port again. Bytes are piped untouched, so the clients speak the real protocol to the
// real server whenever the proxy is up.
import net from 'node:net';

export type TcpProxy = {
  port: number;
  // redis://127.0.0.1:<port> for a Redis target: what REDIS_URL is set to.
  url: string;
  // Connections currently piped (client side).
  openConnections: () => number;
  isCut: () => boolean;
  cut: () => Promise<void>;
  restore: () => Promise<void>;
  close: () => Promise<void>;
};

export async function startTcpProxy(target: { host: string; port: number }, opts: { scheme?: string } = {}): Promise<TcpProxy> {
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>();
  let cutNow = false;

  const server = net.createServer((client) => {
    const upstream = net.connect(target.port, target.host);
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  });

  const listen = (port: number) => new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const stopListening = () => new Promise<void>((resolve) => (server.listening ? server.close(() => resolve()) : resolve()));
  const dropAll = () => {
    for (const { client, upstream } of pairs) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  await listen(0);
  const port = (server.address() as net.AddressInfo).port;
  return {
    port,
    url: `${opts.scheme ?? 'redis'}://127.0.0.1:${port}`,
    openConnections: () => pairs.size,
    isCut: () => cutNow,
    cut: async () => {
      cutNow = true;
      const closed = stopListening();
      dropAll();
      await closed;
    },
    restore: async () => {
      if (!cutNow) return;
      await listen(port);
      cutNow = false;
    },
    close: async () => {
      const closed = stopListening();
      dropAll();
      await closed;
    },
  };
}
