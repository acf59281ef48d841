// World settings: POST/GET /world-settings, GET/PUT/DELETE /world-settings/:id (public ones readable
// by everyone, writes by their creator).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { worldSettingDto, worldSettingInput, type WorldSettingService } from '../../services/chat/worlds.ts';

const idParams = z.object({ id: z.uuid() });

export function worldSettingRoutes(api: Api, deps: { worlds: WorldSettingService }): void {
  api.route({
    method: 'post', path: '/world-settings', summary: 'Create a world setting characters can use', tags: ['chat'], auth: 'user', body: worldSettingInput,
    responses: { 201: { description: 'The world setting', schema: worldSettingDto } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.worlds.create(auth.userId, body) }),
  });
  api.route({
    method: 'get', path: '/world-settings', summary: 'Public world settings and yours (mine=true: yours only), newest first', tags: ['chat'], auth: 'user',
    query: z.object({ mine: z.stringbool().default(false), cursor: z.string().max(300).optional(), limit: z.coerce.number().int().min(1).max(50).default(20) }),
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(worldSettingDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await deps.worlds.list(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/world-settings/:id', summary: 'A world setting (a private one only for its creator)', tags: ['chat'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The world setting', schema: worldSettingDto }, 404: { description: 'No such world setting you may see' } },
    handler: async ({ auth, params }) => ({ body: await deps.worlds.get(auth.userId, params.id) }),
  });
  api.route({
    method: 'put', path: '/world-settings/:id', summary: 'Replace a world setting of yours', tags: ['chat'], auth: 'user', params: idParams, body: worldSettingInput,
    responses: { 200: { description: 'The world setting', schema: worldSettingDto }, 404: { description: 'No such world setting of yours' } },
    handler: async ({ auth, params, body }) => ({ body: await deps.worlds.update(auth.userId, params.id, body) }),
  });
  api.route({
    method: 'delete', path: '/world-settings/:id', summary: 'Delete a world setting of yours (characters using it keep their own world text)', tags: ['chat'], auth: 'user', params: idParams,
    responses: { 204: { description: 'Deleted' }, 404: { description: 'No such world setting of yours' } },
    handler: async ({ auth, params }) => deps.worlds.remove(auth.userId, params.id),
  });
}
