// /notifications: the user's notification stream. The server emits `notification`
// ({ notification, unreadCount }) and `notification.read` ({ ids, all, unreadCount }); a socket
// that (re)connects, to any node, asks `notifications.sync` for what it missed.
import { z } from 'zod';
import { unavailable } from '../services/errors.ts';
import type { NotificationService } from '../services/notifications/notifications.ts';
import { syncPayload } from '../services/notifications/schemas.ts';
import { defineClientEvent, type ClientEvent } from './events.ts';

// The service arrives as a getter: sockets are set up before the services that publish through them.
export function notificationsEvents(opts: { nodeId: string; notifications?: () => NotificationService | undefined }): ClientEvent<z.ZodType>[] {
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
  const sync = defineClientEvent({
    event: 'notifications.sync',
    summary:
      'Notifications newer than `after` (the last id this client saw), oldest first, with the unread count. ' +
      'Without `after`: the newest page. While `hasMore`, ask again with the last id received.',
    schema: syncPayload,
    handler: async (payload, { auth }) => {
      const service = opts.notifications?.();
      if (!service) throw unavailable('not_ready', 'Notifications are not available on this node');
      return service.sync(auth.userId, payload);
    },
  });
  return [whoami, sync];
}
