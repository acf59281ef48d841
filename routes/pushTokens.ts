// /push-tokens: the devices that may receive the signed-in user's pushes.
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { NotificationService } from '../services/notifications/notifications.ts';
import { pushTokenBody, pushTokenDto } from '../services/notifications/schemas.ts';

export function pushTokenRoutes(api: Api, deps: { notifications: NotificationService }): void {
  api.route({
    method: 'post', path: '/push-tokens', tags: ['notifications'], auth: 'user', body: pushTokenBody,
    summary: 'Register this device\'s push token (call on every app start: it refreshes last-seen; a token moves to the account that registers it)',
    responses: {
      201: { description: 'Registered', schema: pushTokenDto },
      200: { description: 'Already registered; last-seen refreshed', schema: pushTokenDto },
    },
    handler: async ({ auth, body }) => {
      const { token, created } = await deps.notifications.pushTokens.register(auth.userId, body);
      return { status: created ? 201 : 200, body: token };
    },
  });

  api.route({
    method: 'delete', path: '/push-tokens/:token', summary: 'Unregister one of your push tokens (on sign-out)', tags: ['notifications'], auth: 'user',
    params: z.object({ token: pushTokenBody.shape.token }),
    responses: { 204: { description: 'Removed' }, 404: { description: 'Not one of your tokens' } },
    handler: async ({ auth, params }) => {
      await deps.notifications.pushTokens.remove(auth.userId, params.token);
    },
  });
}
