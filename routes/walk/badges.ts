// Badges: GET /badges (every badge with my progress), GET /badges/:code, and
// GET /walk/users/:id/badges (someone's earned badges).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { BADGE_CATEGORIES } from '../../services/walk/badgeDefinitions.ts';
import { badgeCode, badgeDto, earnedBadgeDto, type BadgeService } from '../../services/walk/badges.ts';

export function badgeRoutes(api: Api, deps: { badges: BadgeService }): void {
  api.route({
    method: 'get', path: '/badges', summary: 'Every badge with my progress: locked, in progress (current of target) or earned (when)', tags: ['walk'], auth: 'user',
    query: z.object({ category: z.enum(BADGE_CATEGORIES).optional() }),
    responses: { 200: { description: 'The badges, in display order', schema: z.object({ items: z.array(badgeDto) }) } },
    handler: async ({ auth, query }) => ({ body: { items: await deps.badges.list(auth.userId, { category: query.category }) } }),
  });
  api.route({
    method: 'get', path: '/badges/:code', summary: 'One badge with my progress', tags: ['walk'], auth: 'user', params: z.object({ code: badgeCode }),
    responses: { 200: { description: 'The badge', schema: badgeDto }, 404: { description: 'No such badge' } },
    handler: async ({ auth, params }) => ({ body: await deps.badges.get(auth.userId, params.code) }),
  });
  api.route({
    method: 'get', path: '/walk/users/:id/badges', summary: "Someone's earned badges, newest first", tags: ['walk'], auth: 'user', params: z.object({ id: z.uuid() }),
    responses: { 200: { description: 'The earned badges', schema: z.object({ items: z.array(earnedBadgeDto) }) }, 404: { description: 'No such user' } },
    handler: async ({ params }) => ({ body: { items: await deps.badges.earnedBy(params.id) } }),
  });
}
