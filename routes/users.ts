// /admin/users: account administration (admin role).
import { z } from 'zod';
import type { Api } from '../server/http/route.ts';
import type { UserService } from '../services/identity/users.ts';
import { userDto } from '../services/identity/schemas.ts';

export function userAdminRoutes(api: Api, deps: { users: UserService }): void {
  api.route({
    method: 'put', path: '/admin/users/:userId/disabled', summary: 'Disable or re-enable an account; disabling signs it out everywhere',
    tags: ['admin'], auth: 'admin',
    params: z.object({ userId: z.uuid() }),
    body: z.object({ disabled: z.boolean() }),
    responses: { 200: { description: 'The account', schema: userDto }, 404: { description: 'No such user' } },
    handler: async ({ params, body }) => ({ body: await deps.users.setDisabled(params.userId, body.disabled) }),
  });
}
