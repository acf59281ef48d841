// One API node: Koa and Socket.IO on one HTTP server, and its orderly shutdown.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createContext, createServices, type AppContext, type Services } from './context.ts';
import type { Config } from './config.ts';
import type { Logger } from './logger.ts';
import { createHttpApp } from './http/app.ts';
import { createRealtime, type NamespaceSpec, type Realtime } from '../realtime/index.ts';
import { notificationsEvents } from '../realtime/notifications.ts';
import { notificationServerEvents } from '../services/notifications/schemas.ts';
import type { AnyModule } from './module.ts';
import type { Clock } from '../services/time.ts';

export const VERSION = '0.1.0';

export type ApiNode = {
  url: string;
  port: number;
  ctx: AppContext;
  services: Services;
  realtime: Realtime;
  server: http.Server;
  shutdown: (reason?: string) => Promise<void>;
};

export async function startApiNode(config: Config, opts: { logger?: Logger; modules?: AnyModule[]; clock?: Clock } = {}): Promise<ApiNode> {
  const ctx = await createContext(config, opts);
  let shuttingDown = false;
  let inFlight = 0;
  let drained: (() => void) | undefined;

  const server = http.createServer();
  // Socket events reach the services through a getter: the services need the realtime port first.
  const namespaces = socketNamespaces(ctx, () => services);
  const realtime = createNodeRealtime(ctx, server, namespaces);
  const services = createServices(ctx, realtime.port);
  const app = createHttpApp(ctx, services, { isShuttingDown: () => shuttingDown, version: VERSION, namespaces });
  // Creates the queues modules defined and starts working them.
  await ctx.queue.start();
  const handle = app.callback();

  // Socket.IO answers its own /socket.io/ requests on this server; everything else is Koa's.
  server.on('request', (req, res) => {
    if (req.url?.startsWith('/socket.io/')) return;
    inFlight++;
    res.on('close', () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    if (shuttingDown) res.setHeader('Connection', 'close');
    handle(req, res);
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.PORT, config.HOST, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === '0.0.0.0' || config.HOST === '::' ? '127.0.0.1' : config.HOST;
  ctx.urls.self = `http://${host}:${port}`;
  ctx.logger.info({ port, node: config.NODE_ID, redis: Boolean(ctx.redis), database: config.DATABASE_URL ? 'external' : 'embedded' }, 'API node listening');
  // Closes streams a dead node left behind (every API node sweeps; closing one is idempotent).
  services.streams.startSweeping();

  let shutdownPromise: Promise<void> | undefined;
  // Stop accepting, let in-flight requests finish, close sockets, drain workers, close stores;
  // whatever is still open when the deadline passes is cut.
  const shutdown = (reason = 'shutdown') =>
    (shutdownPromise ??= (async () => {
      shuttingDown = true;
      ctx.logger.info({ reason }, 'shutting down');
      const deadline = Date.now() + config.SHUTDOWN_TIMEOUT_MS;
      const serverClosed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      // Streams (answers, replies) generating here finish if they can; those still running near the
      // deadline are interrupted, leaving time for their final event to reach clients on other nodes.
      const streamsDrained = services.streams.drain({ interruptAt: deadline - Math.min(3000, config.SHUTDOWN_TIMEOUT_MS / 3), deadline });
      if (inFlight > 0) await raceDeadline(new Promise<void>((r) => (drained = r)), deadline);
      await raceDeadline(streamsDrained, deadline);
      services.streams.stop();
      await raceDeadline(Promise.allSettled(services.modules.map((m) => m.def.onShutdown?.(m.services))), deadline);
      await raceDeadline(realtime.close(), deadline);
      server.closeAllConnections();
      await raceDeadline(serverClosed, deadline);
      await raceDeadline(ctx.close(), deadline + 2000);
      ctx.logger.info('shutdown complete');
    })());

  return { url: `http://${host}:${port}`, port, ctx, services, realtime, server, shutdown };
}

// The namespaces this process serves: the platform's /notifications, then each enabled module's
// that has socket events. Services arrive through a getter: they are built after the sockets.
export function socketNamespaces(ctx: AppContext, services: () => Services | undefined): NamespaceSpec[] {
  const moduleServices = (name: string) => () => services()?.modules.find((m) => m.def.name === name)?.services;
  return [
    { name: 'notifications', clientEvents: notificationsEvents({ nodeId: ctx.config.NODE_ID, notifications: () => services()?.notifications }), serverEvents: notificationServerEvents },
    ...ctx.modules.filter((m) => m.clientEvents || m.serverEvents).map((m) => ({
      name: m.name,
      clientEvents: m.clientEvents?.(moduleServices(m.name)) ?? [],
      serverEvents: m.serverEvents ?? {},
      guestAuth: m.guestSocket ? (auth: Record<string, unknown>) => m.guestSocket!.authenticate(moduleServices(m.name), auth) : undefined,
    })),
  ];
}

// The composition of a process that serves no HTTP (the cron process, module commands): the same
// context and services as an API node, and Socket.IO on a server that never listens — with Redis,
// what its services emit reaches clients on the API nodes through the adapter. No client connects,
// so its namespaces serve no events.
export async function startHeadless(config: Config, opts: { logger: Logger; acceptsPayments?: boolean }) {
  // Tools and the cron process send to the queue but leave the work to the API nodes.
  const ctx = await createContext(config, { ...opts, workQueue: false });
  const realtime = createNodeRealtime(ctx, http.createServer(), socketNamespaces(ctx, () => undefined));
  const services = createServices(ctx, realtime.port);
  const close = async () => {
    services.streams.stop();
    await realtime.close();
    await ctx.close();
  };
  return { ctx, services, close };
}

// Socket.IO for this process.
export function createNodeRealtime(ctx: AppContext, server: http.Server, namespaces: NamespaceSpec[]): Realtime {
  return createRealtime(server, {
    namespaces,
    orm: ctx.db.orm,
    logger: ctx.logger,
    metrics: ctx.metrics,
    tokens: ctx.tokens,
    corsOrigins: ctx.config.CORS_ORIGINS,
    eventsPer10s: ctx.config.SOCKET_EVENTS_PER_10S,
    redis: ctx.redis ? { pub: ctx.redis.pub, sub: ctx.redis.sub, channelPrefix: ctx.config.REDIS_KEY_PREFIX } : undefined,
  });
}

function raceDeadline(promise: Promise<unknown>, deadline: number): Promise<unknown> {
  const ms = Math.max(0, deadline - Date.now());
  return Promise.race([promise, new Promise((r) => setTimeout(r, ms).unref())]);
}
