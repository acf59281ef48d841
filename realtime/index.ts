// Socket.IO on the API's HTTP server. With Redis it is one node of many: the sharded Redis adapter
// in dynamic subscription mode (Redis >= 7) sends each node only the rooms it has members in.
// It implements the RealtimePort that services publish through.
import type http from 'node:http';
import { Server, type DefaultEventsMap, type Namespace } from 'socket.io';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import type { Redis } from 'ioredis';
import type { TokenService } from '../services/identity/tokens.ts';
import { serverEvents, type RealtimeNamespace, type RealtimePort } from '../services/realtime.ts';
import type { Orm } from '../server/db.ts';
import type { Logger } from '../server/logger.ts';
import type { Metrics } from '../server/metrics.ts';
import { createLimiter } from '../server/rateLimits.ts';
import { socketAuthMiddleware } from './auth.ts';
import { bindClientEvent, describeClientEvents, type ClientEvent, type SocketData, type SocketEventDoc } from './events.ts';
import { notificationsEvents } from './notifications.ts';
import type { ZodType } from 'zod';
import type { NotificationService } from '../services/notifications/notifications.ts';
import type { AskService } from '../services/coach/ask.ts';
import { coachEvents } from './coach.ts';

// The services socket events call. A getter, because the services are built after this (they
// publish through its port); handlers only run once connections arrive, when they exist.
export type RealtimeServices = { notifications: NotificationService; coachAsk: AskService };

export type RealtimeDeps = {
  orm: Orm;
  logger: Logger;
  metrics: Metrics;
  tokens: TokenService;
  nodeId: string;
  corsOrigins: string[];
  eventsPer10s: number;
  redis?: { pub: Redis; sub: Redis; channelPrefix: string };
  services?: () => RealtimeServices;
};

export const userRoom = (userId: string) => `user:${userId}`;
export const sessionRoom = (sessionId: string) => `session:${sessionId}`;

export function namespaceEvents(nodeId: string, services?: () => RealtimeServices): Record<RealtimeNamespace, ClientEvent<ZodType>[]> {
  return { notifications: notificationsEvents({ nodeId, notifications: services && (() => services().notifications) }),
    coach: coachEvents({ ask: services && (() => services().coachAsk) }), walk: [], chat: [] };
}

// Both directions: what a client may emit (and its ack), and what it should listen for.
export function socketEventDocs(nodeId: string): SocketEventDoc[] {
  const clientEvents = Object.entries(namespaceEvents(nodeId)).flatMap(([ns, events]) => describeClientEvents(ns as RealtimeNamespace, events));
  const pushed = Object.entries(serverEvents).flatMap(([namespace, events]) =>
    Object.entries(events as Record<string, { summary: string; schema: ZodType }>).map(([event, spec]) => ({
      namespace: namespace as RealtimeNamespace, event, direction: 'server-to-client' as const, summary: spec.summary, schema: spec.schema,
    })));
  return [...clientEvents, ...pushed];
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
  const namespaces = new Map<RealtimeNamespace, Namespace<DefaultEventsMap, DefaultEventsMap, DefaultEventsMap, SocketData>>();

  for (const [name, events] of Object.entries(namespaceEvents(deps.nodeId, deps.services)) as [RealtimeNamespace, ClientEvent<ZodType>[]][]) {
    // A namespace is opened only once it has something to serve; coach, walk and chat come with their modules.
    if (events.length === 0) continue;
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
    namespace: (name: RealtimeNamespace) => namespaces.get(name),
    // Closes every socket on this node; the HTTP server is closed by its owner.
    close: () => new Promise<void>((resolve) => {
      io.local.disconnectSockets(true);
      for (const nsp of namespaces.values()) nsp.local.disconnectSockets(true);
      io.close(() => resolve());
    }),
  };
}

export type Realtime = ReturnType<typeof createRealtime>;
