// Socket.IO on the API's HTTP server. With Redis it is one node of many: the sharded Redis adapter
// in dynamic subscription mode (Redis >= 7) sends each node only the rooms it has members in.
// It implements the RealtimePort that services publish through.
import type http from 'node:http';
import { Server, type DefaultEventsMap, type Namespace } from 'socket.io';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { TokenService } from '../services/identity/tokens.ts';
import type { RealtimePort, ServerEventSpecs } from '../services/realtime.ts';
import type { Orm } from '../server/db.ts';
import type { Logger } from '../server/logger.ts';
import type { Metrics } from '../server/metrics.ts';
import { createLimiter } from '../server/rateLimits.ts';
import { socketAuthMiddleware } from './auth.ts';
import { bindClientEvent, describeClientEvents, type ClientEvent, type SocketData, type SocketEventDoc } from './events.ts';
import type { ZodType } from 'zod';

// One namespace: what clients may emit on it and what it pushes to them. The platform's
// /notifications is one; each app module with socket events brings its own.
export type NamespaceSpec = { name: string; clientEvents: ClientEvent<ZodType>[]; serverEvents: ServerEventSpecs };

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

// Both directions: what a client may emit (and its ack), and what it should listen for.
export function socketEventDocs(namespaces: NamespaceSpec[]): SocketEventDoc[] {
  return namespaces.flatMap((ns) => [
    ...describeClientEvents(ns.name, ns.clientEvents),
    ...Object.entries(ns.serverEvents).map(([event, spec]) => ({
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

  for (const { name, clientEvents: events } of deps.namespaces) {
    const nsp = io.of(`/${name}`);
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

  const disconnectRoom = async (room: string) => {
    await Promise.all([...namespaces.values()].map((nsp) => nsp.in(room).disconnectSockets(true)));
  };

  const port: RealtimePort = {
    emitToUser: (namespace, userId, event, payload) => {
      namespaces.get(namespace)?.to(userRoom(userId)).emit(event, payload);
    },
    disconnectUser: (userId) => disconnectRoom(userRoom(userId)),
    disconnectSession: (sessionId) => disconnectRoom(sessionRoom(sessionId)),
    // fetchSockets goes through the adapter: with Redis it asks every node, so "offline" means offline everywhere.
    hasLiveSocket: async (userId) => {
      for (const nsp of namespaces.values()) {
        if ((await nsp.in(userRoom(userId)).fetchSockets()).length > 0) return true;
      }
      return false;
    },
  };

  return {
    io,
    port,
    namespace: (name: string) => namespaces.get(name),
    // Closes every socket on this node; the HTTP server is closed by its owner.
    close: () => new Promise<void>((resolve) => {
      io.local.disconnectSockets(true);
      for (const nsp of namespaces.values()) nsp.local.disconnectSockets(true);
      io.close(() => resolve());
    }),
  };
}

export type Realtime = ReturnType<typeof createRealtime>;
