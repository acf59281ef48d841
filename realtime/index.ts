// Socket.IO on the API's HTTP server. With Redis it is one node of many: the sharded Redis adapter
// in dynamic subscription mode (Redis >= 7) sends each node only the rooms it has members in.
// It implements the RealtimePort that services publish through.
//
// When Redis is unreachable the node keeps serving its own sockets and waits on nothing: emits and
// disconnects stay local (the adapter would first wait for ioredis to give up on the publish, which
// takes seconds), and presence answers from this node's sockets or says it cannot tell. When the
// bus is back, every socket on the node is sent `resync` so its client catches up from Postgres.
import type http from 'node:http';
import { Server, type DefaultEventsMap, type Namespace } from 'socket.io';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { TokenService } from '../services/identity/tokens.ts';
import { platformServerEvents, type RealtimePort, type ServerEventSpecs } from '../services/realtime.ts';
import type { Orm } from '../server/db.ts';
import type { Logger } from '../server/logger.ts';
import type { Metrics } from '../server/metrics.ts';
import { createLimiter } from '../server/rateLimits.ts';
import { socketAuthMiddleware } from './auth.ts';
import { AppError } from '../services/errors.ts';
import { bindClientEvent, describeClientEvents, type ClientEvent, type SocketData, type SocketEventDoc } from './events.ts';
import type { ZodType, z } from 'zod';

// One namespace: what clients may emit on it and what it pushes to them. The platform's
// /notifications is one; each app module with socket events brings its own.
// A guest namespace takes no user token: its authenticator checks what the client sends in
// `auth` (a job token, say) and names the rooms the socket joins; it serves server events only.
export type GuestSocketAuth = (auth: Record<string, unknown>) => Promise<{ rooms: string[] }>;
export type NamespaceSpec = { name: string; clientEvents: ClientEvent<ZodType>[]; serverEvents: ServerEventSpecs; guestAuth?: GuestSocketAuth };

export type RealtimeDeps = {
  orm: Orm;
  logger: Logger;
  metrics: Metrics;
  tokens: TokenService;
  corsOrigins: string[];
  eventsPer10s: number;
  redis?: { pub: Redis; sub: Redis; channelPrefix: string };
  namespaces: NamespaceSpec[];
};

export const userRoom = (userId: string) => `user:${userId}`;
export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

// How long "is this user online anywhere?" may take before the answer is "cannot tell". A healthy
// cluster answers in milliseconds; without a bound, a node that is leaving (still subscribed, no
// longer answering) held every caller for the adapter's 5 s request timeout.
export const PRESENCE_TIMEOUT_MS = 500;
// After the bus comes back, the resync is spread over this long in slices of at least
// RESYNC_SLICE_SOCKETS, so that every client's catch-up query does not reach Postgres at once.
const RESYNC_SPREAD_MS = 2000;
const RESYNC_SLICE_SOCKETS = 200;

// Both directions: what a client may emit (and its ack), and what it should listen for. The
// platform's own server events (resync) are sent on every namespace.
export function socketEventDocs(namespaces: NamespaceSpec[]): SocketEventDoc[] {
  return namespaces.flatMap((ns) => [
    ...describeClientEvents(ns.name, ns.clientEvents),
    ...Object.entries({ ...ns.serverEvents, ...platformServerEvents }).map(([event, spec]) => ({
      namespace: ns.name, event, direction: 'server-to-client' as const, summary: spec.summary, schema: spec.schema,
    })),
  ]);
}

export function createRealtime(httpServer: http.Server, deps: RealtimeDeps) {
  const allowed = new Set(deps.corsOrigins);
  const io = new Server<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>(httpServer, {
    cors: { origin: [...allowed], credentials: true },
    // Browsers send Origin; a page on a foreign origin is refused before the handshake.
    // Native mobile clients send none and are let through to token authentication.
    allowRequest: (req, callback) => {
      const origin = req.headers.origin;
      callback(null, !origin || allowed.has(origin));
    },
    ...(deps.redis ? { adapter: createShardedAdapter(deps.redis.pub, deps.redis.sub, { subscriptionMode: 'dynamic', channelPrefix: `${deps.redis.channelPrefix}:socket.io` }) } : {}),
  });

  const eventLimiter = createLimiter({ name: 'socket-events', points: deps.eventsPer10s, durationSeconds: 10 });
  const authenticate = socketAuthMiddleware({ tokens: deps.tokens, orm: deps.orm });
  const namespaces = new Map<string, Namespace<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>>();

  for (const { name, clientEvents: events, guestAuth } of deps.namespaces) {
    const nsp = io.of(`/${name}`);
    if (guestAuth) {
      nsp.use(async (socket, next) => {
        try {
          const { rooms } = await guestAuth((socket.handshake.auth ?? {}) as Record<string, unknown>);
          await socket.join(rooms);
          deps.metrics.socketConnections.inc({ namespace: name });
          socket.on('disconnect', () => deps.metrics.socketConnections.dec({ namespace: name }));
          next();
        } catch (err) {
          const e = err instanceof AppError ? err : undefined;
          next(Object.assign(new Error(e?.message ?? 'Could not authenticate the connection'), { data: { code: e?.code ?? 'internal_error' } }));
        }
      });
      namespaces.set(name, nsp);
      continue;
    }
    nsp.use(authenticate);
    nsp.on('connection', (socket) => {
      const { auth } = socket.data;
      socket.join([userRoom(auth.userId), sessionRoom(auth.sessionId)]);
      deps.metrics.socketConnections.inc({ namespace: name });
      socket.on('disconnect', () => deps.metrics.socketConnections.dec({ namespace: name }));
      for (const event of events) bindClientEvent(name, socket, event, { orm: deps.orm, logger: deps.logger, metrics: deps.metrics, eventLimiter });
    });
    namespaces.set(name, nsp);
  }

  // The main namespace serves nothing: connections there are closed at once.
  io.of('/').use((_socket, next) => next(Object.assign(new Error('Connect to a namespace such as /notifications'), { data: { code: 'no_namespace' } })));

  // Without Redis there is no bus and nothing to fall back from.
  const bus = deps.redis ? watchBus(deps.redis, deps.logger, () => resyncLocalSockets()) : undefined;
  const busUp = () => bus?.isUp() ?? true;

  // While the bus is down an operation is applied to this node's sockets only, at once; the other
  // nodes' sockets catch up through resync when it is back.
  const disconnectRoom = async (room: string) => {
    await Promise.all([...namespaces.values()].map((nsp) => (busUp() ? nsp : nsp.local).in(room).disconnectSockets(true)));
  };

  const isHere = (room: string) => [...namespaces.values()].some((nsp) => (nsp.adapter.rooms.get(room)?.size ?? 0) > 0);

  const port: RealtimePort = {
    emitToUser: (namespace, userId, event, payload) => {
      const nsp = namespaces.get(namespace);
      if (nsp) (busUp() ? nsp : nsp.local).to(userRoom(userId)).emit(event, payload);
    },
    emitToRoom: (namespace, room, event, payload) => {
      const nsp = namespaces.get(namespace);
      if (nsp) (busUp() ? nsp : nsp.local).to(room).emit(event, payload);
    },
    disconnectUser: (userId) => disconnectRoom(userRoom(userId)),
    disconnectSession: (sessionId) => disconnectRoom(sessionRoom(sessionId)),
    // This node's own sockets answer without the bus. Otherwise fetchSockets asks every node
    // through the adapter, so "offline" means offline everywhere; when that cannot be known within
    // PRESENCE_TIMEOUT_MS (bus down, a node not answering) it rejects rather than guess.
    hasLiveSocket: async (userId) => {
      const room = userRoom(userId);
      if (isHere(room)) return true;
      if (!deps.redis) return false;
      if (!busUp()) throw new Error('the Socket.IO bus (Redis) is not connected');
      const everywhere = Promise.all([...namespaces.values()].map((nsp) => nsp.in(room).timeout(PRESENCE_TIMEOUT_MS).fetchSockets()));
      const found = await withTimeout(everywhere, PRESENCE_TIMEOUT_MS, `not every node answered within ${PRESENCE_TIMEOUT_MS} ms`);
      return found.some((sockets) => sockets.length > 0);
    },
  };

  // Every socket of this node, in every namespace, is told to catch up: slices of sockets spread
  // over RESYNC_SPREAD_MS, each socket once.
  function resyncLocalSockets(): number {
    const sockets = [...namespaces.values()].flatMap((nsp) => [...nsp.sockets.values()]);
    const slices = Math.max(1, Math.min(Math.ceil(sockets.length / RESYNC_SLICE_SOCKETS), 20));
    const perSlice = Math.ceil(sockets.length / slices);
    const payload: z.output<typeof platformServerEvents.resync.schema> = { reason: 'bus_recovered' };
    for (let i = 0; i < slices; i++) {
      const slice = sockets.slice(i * perSlice, (i + 1) * perSlice);
      const send = () => {
        for (const socket of slice) if (socket.connected) socket.emit('resync', payload);
      };
      if (i === 0) send();
      else setTimeout(send, (i * RESYNC_SPREAD_MS) / slices).unref();
    }
    return sockets.length;
  }

  return {
    io,
    port,
    namespace: (name: string) => namespaces.get(name),
    // Closes every socket on this node; the HTTP server is closed by its owner.
    close: () => new Promise<void>((resolve) => {
      bus?.stop();
      io.local.disconnectSockets(true);
      for (const nsp of namespaces.values()) nsp.local.disconnectSockets(true);
      io.close(() => resolve());
    }),
  };
}

export type Realtime = ReturnType<typeof createRealtime>;

// The Socket.IO bus is up while both adapter connections are ready. Whenever it comes up (after an
// outage, or late at start), this node's sockets may have missed what other nodes emitted in the
// meantime, so `recovered` runs; it waits for a PING on the subscriber, which answers after the
// channels ioredis re-subscribes on reconnect, so that what is emitted from then on reaches this
// node again.
function watchBus(redis: { pub: Redis; sub: Redis }, logger: Logger, recovered: () => number) {
  const clients = [redis.pub, redis.sub];
  const allReady = () => clients.every((c) => c.status === 'ready');
  let up = allReady();
  let downSince = up ? 0 : Date.now();
  let outage = false;
  let stopped = false;
  const check = () => {
    if (stopped || allReady() === up) return;
    up = !up;
    if (!up) {
      downSince = Date.now();
      outage = true;
      logger.warn('Socket.IO bus (Redis) unreachable: emits reach only this node\'s sockets until it is back');
      return;
    }
    const downMs = Date.now() - downSince;
    const wasOutage = outage;
    outage = false;
    void redis.sub.ping().catch(() => undefined).then(() => {
      if (stopped || !up) return;
      const sockets = recovered();
      if (wasOutage) logger.warn({ downMs, sockets }, 'Socket.IO bus (Redis) is back: this node\'s sockets were told to resync');
    });
  };
  const events = ['ready', 'close', 'reconnecting', 'end'];
  for (const c of clients) for (const e of events) c.on(e, check);
  return {
    isUp: () => up && allReady(),
    stop: () => {
      stopped = true;
      for (const c of clients) for (const e of events) c.off(e, check);
    },
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
