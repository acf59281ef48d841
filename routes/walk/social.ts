// The walk app's social routes: follow and block (under /walk/users/:id), followers/following/blocked
// lists, the feed, friend recommendations. Likes and comments on walks are the platform's social
// routes (routes/social.ts) at /walks/:id/like, /walks/:id/comments and /walk-comments/:id.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { feedItemDto, recommendationDto, walkerDto, type WalkSocialService } from '../../services/walk/social.ts';

const idParams = z.object({ id: z.uuid() });
const page = { cursor: z.string().max(300).optional(), limit: z.coerce.number().int().min(1).max(100).default(20) };
const walkerPage = z.object({ items: z.array(walkerDto), nextCursor: z.string().nullable() });

export function walkSocialRoutes(api: Api, deps: { social: WalkSocialService }): void {
  const s = deps.social;
  api.route({
    method: 'post', path: '/walk/users/:id/follow', summary: 'Follow a walker (twice is once); they are told', tags: ['walk', 'social'], auth: 'user', params: idParams,
    responses: { 200: { description: 'Following', schema: z.object({ following: z.boolean() }) }, 404: { description: 'No such walker you may see' }, 409: { description: 'self_follow' } },
    handler: async ({ auth, params }) => ({ body: await s.follow(auth.userId, params.id) }),
  });
  api.route({
    method: 'delete', path: '/walk/users/:id/follow', summary: 'Stop following a walker', tags: ['walk', 'social'], auth: 'user', params: idParams,
    responses: { 200: { description: 'Not following', schema: z.object({ following: z.boolean() }) } },
    handler: async ({ auth, params }) => ({ body: await s.unfollow(auth.userId, params.id) }),
  });
  api.route({
    method: 'post', path: '/walk/users/:id/block', summary: 'Block a walker: they see nothing of you and cannot follow, like, comment on or invite you; follows both ways end', tags: ['walk', 'social'],
    auth: 'user', params: idParams,
    responses: { 200: { description: 'Blocked', schema: z.object({ blocked: z.boolean() }) }, 404: { description: 'No such walker' } },
    handler: async ({ auth, params }) => ({ body: await s.block(auth.userId, params.id) }),
  });
  api.route({
    method: 'delete', path: '/walk/users/:id/block', summary: 'Unblock a walker', tags: ['walk', 'social'], auth: 'user', params: idParams,
    responses: { 200: { description: 'Not blocked', schema: z.object({ blocked: z.boolean() }) } },
    handler: async ({ auth, params }) => ({ body: await s.unblock(auth.userId, params.id) }),
  });
  for (const which of ['followers', 'following'] as const) {
    api.route({
      method: 'get', path: `/walk/users/:id/${which}`, summary: `A walker's ${which}, newest first, by cursor`, tags: ['walk', 'social'], auth: 'user', params: idParams, query: z.object(page),
      responses: { 200: { description: 'A page', schema: walkerPage }, 404: { description: 'No such walker you may see' } },
      handler: async ({ auth, params, query }) => ({ body: await s.list(auth.userId, params.id, which, query) }),
    });
  }
  api.route({
    method: 'get', path: '/walk/blocks', summary: 'The walkers I blocked, newest first, by cursor', tags: ['walk', 'social'], auth: 'user', query: z.object(page),
    responses: { 200: { description: 'A page', schema: walkerPage } },
    handler: async ({ auth, query }) => ({ body: await s.list(auth.userId, auth.userId, 'blocked', query) }),
  });
  api.route({
    method: 'get', path: '/walk/feed', summary: 'Trusted walks of the walkers I follow (and mine), by recency, engagement and distance, by cursor', tags: ['walk', 'social'], auth: 'user',
    query: z.object(page),
    responses: { 200: { description: 'A page', schema: z.object({ items: z.array(feedItemDto), nextCursor: z.string().nullable() }) } },
    handler: async ({ auth, query }) => ({ body: await s.feed(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/walk/recommendations', summary: 'Walkers to follow (recomputed every 12 hours: mutual follows, region, usual walk time)', tags: ['walk', 'social'], auth: 'user',
    query: z.object({ limit: z.coerce.number().int().min(1).max(20).default(10) }),
    responses: { 200: { description: 'The recommendations', schema: z.object({ items: z.array(recommendationDto) }) } },
    handler: async ({ auth, query }) => ({ body: await s.recommendations(auth.userId, query.limit) }),
  });
}
