// /notifications: the user's notification stream. Delivery arrives with the notifications service;
// for now it authenticates and answers `whoami`, so the auth and ack paths are real.
import { z } from 'zod';
import { defineClientEvent, type ClientEvent } from './events.ts';

export function notificationsEvents(opts: { nodeId: string }): ClientEvent<z.ZodType>[] {
  const whoami = defineClientEvent({
    event: 'whoami',
    summary: 'Which user, session and node this socket is connected to (useful after a reconnect).',
    schema: z.object({}).strict(),
    handler: async (_payload, { auth, socket }) => ({
      userId: auth.userId,
      sessionId: auth.sessionId,
      role: auth.role,
      socketId: socket.id,
      node: opts.nodeId,
    }),
  });
  return [whoami];
}
