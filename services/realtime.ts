// The port through which services reach connected clients. realtime/ implements it on Socket.IO
// (across every node when Redis is configured); services never import socket.io themselves.
import type { ZodType, z } from 'zod';
import { answerDelta, answerDone, answerFailure } from './coach/schemas.ts';
import { notificationEvent, notificationReadEvent } from './notifications/schemas.ts';

export type RealtimeNamespace = 'notifications' | 'coach' | 'walk' | 'chat';

type ServerEventSpec = { summary: string; schema: ZodType };

// Server-to-client events by namespace: what each event carries, as the zod schema that types
// emits here and documents the event in /openapi.json. A module adds its events here; emitting an
// event that is not listed, or with the wrong payload, does not type-check.
export const serverEvents = {
  notifications: {
    notification: { summary: 'A new notification, with the unread count after it', schema: notificationEvent },
    'notification.read': { summary: 'Notifications were marked read (on any of the user\'s devices)', schema: notificationReadEvent },
  },
  coach: {
    'answer.delta': { summary: 'The next piece of an answer, at its offset (UTF-16 code units)', schema: answerDelta },
    'answer.done': { summary: 'The answer is complete: sources, usage, cost, cache and plan figures', schema: answerDone },
    'answer.error': { summary: 'The answer failed or was cancelled at this offset', schema: answerFailure },
  },
  walk: {},
  chat: {},
} satisfies Record<RealtimeNamespace, Record<string, ServerEventSpec>>;

type ServerEventSpecs = typeof serverEvents;
export type ServerEvents = {
  [N in RealtimeNamespace]: { [E in keyof ServerEventSpecs[N]]: ServerEventSpecs[N][E] extends ServerEventSpec ? z.output<ServerEventSpecs[N][E]['schema']> : never };
};

export type RealtimePort = {
  emitToUser: <N extends RealtimeNamespace, E extends keyof ServerEvents[N] & string>(
    namespace: N,
    userId: string,
    event: E,
    payload: ServerEvents[N][E],
  ) => void;
  // Closes every socket of the user, or of one sign-in session, on every node.
  disconnectUser: (userId: string) => Promise<void>;
  disconnectSession: (sessionId: string) => Promise<void>;
  // Whether the user has a connected socket on any node (asks every node when Redis is configured).
  hasLiveSocket: (userId: string) => Promise<boolean>;
};
