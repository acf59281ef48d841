// The port through which services reach connected clients. realtime/ implements it on Socket.IO
// (across every node when Redis is configured); services never import socket.io themselves.
//
// Each namespace declares its server-to-client events as zod schemas (the notifications namespace
// in services/notifications/schemas.ts, a module's in its definition). A service emits through a
// NamespacePort typed by that declaration, so an event that is not listed, or a payload of the wrong
// shape, does not type-check; the same schemas document the events in /openapi.json.
import type { ZodType, z } from 'zod';

export type ServerEventSpec = { summary: string; schema: ZodType };
export type ServerEventSpecs = Record<string, ServerEventSpec>;

export type RealtimePort = {
  emitToUser: (namespace: string, userId: string, event: string, payload: unknown) => void;
  // Closes every socket of the user, or of one sign-in session, on every node.
  disconnectUser: (userId: string) => Promise<void>;
  disconnectSession: (sessionId: string) => Promise<void>;
  // Whether the user has a connected socket on any node (asks every node when Redis is configured).
  hasLiveSocket: (userId: string) => Promise<boolean>;
};

export type NamespacePort<E extends ServerEventSpecs> = {
  namespace: string;
  emitToUser: <K extends keyof E & string>(userId: string, event: K, payload: z.output<E[K]['schema']>) => void;
  hasLiveSocket: (userId: string) => Promise<boolean>;
};

// `events` only carries the type: the port is the same object for every namespace.
export function namespacePort<E extends ServerEventSpecs>(port: RealtimePort, namespace: string, _events: E): NamespacePort<E> {
  return {
    namespace,
    emitToUser: (userId, event, payload) => port.emitToUser(namespace, userId, event, payload),
    hasLiveSocket: port.hasLiveSocket,
  };
}
