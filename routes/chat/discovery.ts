// Rankings and discovery at the seed's paths: GET /rankings/characters, GET /rankings/stories,
// GET /trending/daily, GET /recommendations/characters.
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { characterDto } from '../../services/chat/characters.ts';
import { rankedItemDto, type DiscoveryService } from '../../services/chat/discovery.ts';
import { myRankDto, rankingPeriod } from '../../services/rankings/rankings.ts';

const rankingQuery = z.object({
  period: rankingPeriod.default('weekly'),
  limit: z.coerce.number().int().min(1).max(100).default(100),
  itemId: z.uuid().optional().meta({ description: 'Your character (or story) whose rank to include as `mine`' }),
});
const rankingPage = z.object({ period: z.object({ kind: rankingPeriod, start: z.string() }), items: z.array(rankedItemDto), mine: myRankDto.nullable() });

export function discoveryRoutes(api: Api, deps: { discovery: DiscoveryService }): void {
  for (const kind of ['characters', 'stories'] as const) {
    api.route({
      method: 'get', path: `/rankings/${kind}`, summary: `Top ${kind} of a KST day, week (from Monday), month or all time, with your item's rank`, tags: ['chat', 'rankings'], auth: 'user',
      query: rankingQuery,
      responses: { 200: { description: 'The ranking (items you may not see are left out; the others keep their board ranks)', schema: rankingPage } },
      handler: async ({ auth, query }) => ({ body: await deps.discovery.ranking(auth.userId, kind, query) }),
    });
  }
  api.route({
    method: 'get', path: '/trending/daily', summary: "Characters growing fastest today (KST) over yesterday", tags: ['chat', 'rankings'], auth: 'user',
    query: z.object({ limit: z.coerce.number().int().min(1).max(50).default(20) }),
    responses: {
      200: {
        description: 'Growth = today\'s score − yesterday\'s',
        schema: z.object({ items: z.array(z.object({ id: z.uuid(), name: z.string(), creatorId: z.uuid(), likeCount: z.number().int(), growth: z.number().int(), score: z.number().int(), previous: z.number().int() })) }),
      },
    },
    handler: async ({ auth, query }) => ({ body: { items: await deps.discovery.trending(auth.userId, query.limit) } }),
  });
  api.route({
    method: 'get', path: '/recommendations/characters', summary: 'Characters for you: like the ones you liked and chatted with; the popular ones if you are new', tags: ['chat', 'rankings'], auth: 'user',
    query: z.object({ limit: z.coerce.number().int().min(1).max(50).default(20) }),
    responses: { 200: { description: 'Never your own, private ones, or ones you already like or chat with', schema: z.object({ basedOn: z.enum(['history', 'popular']), items: z.array(characterDto) }) } },
    handler: async ({ auth, query }) => ({ body: await deps.discovery.recommend(auth.userId, query.limit) }),
  });
}
