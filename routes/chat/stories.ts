// Stories at the seed's paths: POST /stories/generate (the whole story; the /chat socket streams it),
// story CRUD (POST/GET /stories, GET/PUT/DELETE /stories/:id), a creator's stories, and featuring (admin).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { generateStoryInput, storyDone, storyDto, storyInput, storyListQuery, type StoryService } from '../../services/chat/stories.ts';

const idParams = z.object({ id: z.uuid() });
const page = z.object({ items: z.array(storyDto), nextCursor: z.string().nullable() });

export function storyRoutes(api: Api, deps: { stories: StoryService }): void {
  api.route({
    method: 'post', path: '/stories/generate', summary: 'Generate a story starring characters you may see, priced in points (the /chat socket streams it: story.generate)', tags: ['chat', 'stories'],
    auth: 'user', body: generateStoryInput,
    responses: { 200: { description: 'The story, usage, points charged and your balance', schema: storyDone }, 402: { description: 'insufficient_points: nothing stored or generated' } },
    handler: async ({ auth, body }) => ({ body: await (await deps.stories.generate(auth.userId, body)).result }),
  });
  api.route({
    method: 'post', path: '/stories', summary: 'Write a story', tags: ['chat', 'stories'], auth: 'user', body: storyInput,
    responses: { 201: { description: 'The story', schema: storyDto } },
    handler: async ({ auth, body }) => ({ status: 201, body: await deps.stories.create(auth.userId, body) }),
  });
  api.route({
    method: 'get', path: '/stories', summary: 'Public stories, newest first: by genre, character, featured', tags: ['chat', 'stories'], auth: 'user', query: storyListQuery,
    responses: { 200: { description: 'A page', schema: page } },
    handler: async ({ auth, query }) => ({ body: await deps.stories.list(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/stories/:id', summary: 'A story (counts one view per user per day)', tags: ['chat', 'stories'], auth: 'user', params: idParams,
    responses: { 200: { description: 'The story', schema: storyDto }, 404: { description: 'No such story you may see' } },
    handler: async ({ auth, params }) => ({ body: await deps.stories.read(auth.userId, params.id) }),
  });
  api.route({
    method: 'put', path: '/stories/:id', summary: 'Replace a story of yours', tags: ['chat', 'stories'], auth: 'user', params: idParams, body: storyInput,
    responses: { 200: { description: 'The story', schema: storyDto }, 404: { description: 'No such story of yours' } },
    handler: async ({ auth, params, body }) => ({ body: await deps.stories.update(auth.userId, params.id, body) }),
  });
  api.route({
    method: 'delete', path: '/stories/:id', summary: 'Delete a story of yours', tags: ['chat', 'stories'], auth: 'user', params: idParams,
    responses: { 204: { description: 'Deleted' }, 404: { description: 'No such story of yours' } },
    handler: async ({ auth, params }) => deps.stories.remove(auth.userId, params.id),
  });
  api.route({
    method: 'get', path: '/users/:id/stories', summary: "A creator's stories: all of yours, another's public ones", tags: ['chat', 'stories'], auth: 'user', params: idParams, query: storyListQuery,
    responses: { 200: { description: 'A page', schema: page } },
    handler: async ({ auth, params, query }) => ({ body: await deps.stories.list(auth.userId, query, params.id) }),
  });
  api.route({
    method: 'put', path: '/admin/stories/:id/featured', summary: 'Feature a story, or stop featuring it', tags: ['chat', 'stories', 'admin'], auth: 'admin', params: idParams,
    body: z.object({ featured: z.boolean() }),
    responses: { 200: { description: 'The story', schema: storyDto }, 404: { description: 'No such story' } },
    handler: async ({ params, body }) => ({ body: await deps.stories.setFeatured(params.id, body.featured) }),
  });
}
