// The port through which services reach connected clients. realtime/ implements it on Socket.IO
// (across every node when Redis is configured); services never import socket.io themselves.
//
// Each namespace declares its server-to-client events as zod schemas (the notifications namespace
// in services/notifications/schemas.ts, a module's in its definition). A service emits through a
// NamespacePort typed by that declaration, so an event that is not listed, or a payload of the wrong
// shape, does not type-check; the same schemas document the events in /openapi.json.
import { z, type ZodType } from 'zod';

export type ServerEventSpec = { summary: string; schema: ZodType };
export type ServerEventSpecs = Record<string, ServerEventSpec>;

// Events the platform itself sends on every namespace, documented with each namespace's own.
// `resync` exists because a node's emits reach sockets on other nodes only through Redis: while it is
// unreachable they stay on the node that made them, and what was stored meanwhile (a notification,
// an answer's deltas) has not reached sockets elsewhere. When the bus is back, every node sends this
// to each of its sockets; the client catches up the way it does after a reconnect, so no new
// protocol is needed and nothing created during the outage stays undelivered.
export const platformServerEvents = {
  resync: {
    summary:
      'The server\'s link to the other nodes (Redis) was interrupted and is back: events for you created meanwhile ' +
      'on another node may not have reached this socket. Catch up as after a reconnect: on /notifications, ' +
      '`notifications.sync` with the last id you saw; on another namespace, its own resume event.',
    schema: z.object({ reason: z.enum(['bus_recovered']) }),
  },
} satisfies ServerEventSpecs;

export type RealtimePort = {
  emitToUser: (namespace: string, userId: string, event: string, payload: unknown) => void;
  // To a room a module's guest sockets joined (its guestSocket authenticator names the rooms).
  emitToRoom: (namespace: string, room: string, event: string, payload: unknown) => void;
  // Closes every socket of the user, or of one sign-in session, on every node.
  disconnectUser: (userId: string) => Promise<void>;
  disconnectSession: (sessionId: string) => Promise<void>;
  // Whether the user has a connected socket on any node (asks every node when Redis is configured).
  // Rejects, within a fraction of a second, when it cannot tell: the bus is down, or a node did not
  // answer (one that is leaving, say). What doubt means is the caller's choice.
  hasLiveSocket: (userId: string) => Promise<boolean>;
};

export type NamespacePort<E extends ServerEventSpecs> = {
  namespace: string;
  emitToUser: <K extends keyof E & string>(userId: string, event: K, payload: z.output<E[K]['schema']>) => void;
  emitToRoom: <K extends keyof E & string>(room: string, event: K, payload: z.output<E[K]['schema']>) => void;
  hasLiveSocket: (userId: string) => Promise<boolean>;
};

// `events` only carries the type: the port is the same object for every namespace.
export function namespacePort<E extends ServerEventSpecs>(port: RealtimePort, namespace: string, _events: E): NamespacePort<E> {
  return {
    namespace,
    emitToUser: (userId, event, payload) => port.emitToUser(namespace, userId, event, payload),
    emitToRoom: (room, event, payload) => port.emitToRoom(namespace, room, event, payload),
    hasLiveSocket: port.hasLiveSocket,
  };
}
