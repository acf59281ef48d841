// /notifications: the signed-in user's inbox, read state and push preferences.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { NotificationService } from '../services/notifications/notifications.ts';
import { listQuery, notificationDto, notificationId, notificationPage, settingsDto, updateSettingsBody } from '../services/notifications/schemas.ts';

export function notificationRoutes(api: Api, deps: { notifications: NotificationService }): void {
  const { notifications } = deps;

  api.route({
    method: 'get', path: '/notifications', tags: ['notifications'], auth: 'user', query: listQuery,
    summary: 'Newest first, paged with ?cursor=; ?unread=true for unread only; ?after=<id> for everything newer than an id, oldest first (sync)',
    responses: { 200: { description: 'A page of notifications and the unread count', schema: notificationPage } },
    handler: async ({ auth, query }) => ({ body: await notifications.list(auth.userId, query) }),
  });

  api.route({
    method: 'put', path: '/notifications/:id/read', summary: 'Mark one notification read (idempotent)', tags: ['notifications'], auth: 'user',
    params: z.object({ id: notificationId }),
    responses: {
      200: { description: 'The notification and the unread count', schema: z.object({ notification: notificationDto, unreadCount: z.number().int() }) },
      404: { description: 'No such notification of this user' },
    },
    handler: async ({ auth, params }) => ({ body: await notifications.markRead(auth.userId, params.id) }),
  });

  api.route({
    method: 'post', path: '/notifications/read-all', summary: 'Mark every notification read', tags: ['notifications'], auth: 'user',
    responses: { 200: { description: 'How many changed, and the unread count (0)', schema: z.object({ updated: z.number().int(), unreadCount: z.number().int() }) } },
    handler: async ({ auth }) => ({ body: await notifications.markAllRead(auth.userId) }),
  });

  api.route({
    method: 'get', path: '/notifications/settings', summary: 'Push preferences: categories, quiet hours, time zone', tags: ['notifications'], auth: 'user',
    responses: { 200: { description: 'The settings (defaults until first changed)', schema: settingsDto } },
    handler: async ({ auth }) => ({ body: await notifications.settings.get(auth.userId) }),
  });

  // PUT, and POST as seed 004's clients send it: the same change.
  for (const method of ['put', 'post'] as const) {
    api.route({
      method, path: '/notifications/settings', tags: ['notifications'], auth: 'user', body: updateSettingsBody,
      summary: `Change push preferences; fields left out keep their value. Quiet hours are HH:MM in timeZone (IANA) and may wrap midnight${method === 'post' ? ' (the same as PUT)' : ''}`,
      responses: { 200: { description: 'The settings after the change', schema: settingsDto } },
      handler: async ({ auth, body }) => ({ body: await notifications.settings.update(auth.userId, body) }),
    });
  }
}
