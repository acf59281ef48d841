// The port through which services reach connected clients. realtime/ implements it on Socket.IO
// (across every node when Redis is configured); services never import socket.io themselves.
import type { AnswerDone, AnswerFailure } from './coach/answerBuffer.ts';
import type { NotificationEvent, NotificationReadEvent } from './notifications/schemas.ts';

export type RealtimeNamespace = 'notifications' | 'coach' | 'walk' | 'chat';

// Server-to-client events by namespace: what each event carries. A module adds its events here;
// emitting an event that is not listed, or with the wrong payload, does not type-check.
export type ServerEvents = {
  notifications: { notification: NotificationEvent; 'notification.read': NotificationReadEvent };
  // Deltas carry the offset (in UTF-16 code units, i.e. JavaScript string length) at which their text starts.
  coach: { 'answer.delta': { answerId: string; offset: number; text: string }; 'answer.done': AnswerDone; 'answer.error': AnswerFailure };
  walk: Record<never, never>;
  chat: Record<never, never>;
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
