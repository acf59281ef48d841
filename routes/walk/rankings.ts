// Walk rankings: GET /rankings/walks (top N and your row), /rankings/walks/around-me,
// /rankings/walks/hall-of-fame, /rankings/walks/live. (Chat owns /rankings/characters and
// /rankings/stories; nothing else lives under /rankings/walks.)
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import { calendarDate } from '../../services/time.ts';
import {
  MAX_AROUND_SPAN, MAX_HALL_OF_FAME_PERIODS, MAX_WALK_RANKING_LIMIT, walkClosedPeriod, walkHallOfFameDto, walkLivePeriod, walkLiveRankingDto,
  walkRankingDto, walkRankingMetric, walkRankingPeriod, walkRankingScope, type WalkRankingService,
} from '../../services/walk/rankings.ts';

const view = {
  period: walkRankingPeriod.default('week'),
  metric: walkRankingMetric.default('distance'),
  scope: walkRankingScope.default('all'),
};

export function walkRankingRoutes(api: Api, deps: { rankings: WalkRankingService }): void {
  api.route({
    method: 'get', path: '/rankings/walks', summary: 'Top walkers by distance or walk count this KST week, month or all time, with your row', tags: ['walk', 'rankings'], auth: 'user',
    query: z.object({ ...view, limit: z.coerce.number().int().min(1).max(MAX_WALK_RANKING_LIMIT).default(MAX_WALK_RANKING_LIMIT) }),
    responses: { 200: { description: 'Trusted walks only, as the hourly recompute left them (computedAt); friends are ranked among themselves. 400 no_region for scope=region without a profile region', schema: walkRankingDto } },
    handler: async ({ auth, query }) => ({ body: await deps.rankings.ranking(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/rankings/walks/around-me', summary: 'Your rank with the walkers just above and below you', tags: ['walk', 'rankings'], auth: 'user',
    query: z.object({ ...view, span: z.coerce.number().int().min(1).max(MAX_AROUND_SPAN).default(5).meta({ description: 'Rows above and below yours' }) }),
    responses: { 200: { description: 'Fewer rows at the top or bottom; no rows (mine null) without a trusted walk in the period', schema: walkRankingDto } },
    handler: async ({ auth, query }) => ({ body: await deps.rankings.aroundMe(auth.userId, query) }),
  });
  api.route({
    method: 'get', path: '/rankings/walks/hall-of-fame', summary: 'The best walkers of each closed KST week or month, newest first', tags: ['walk', 'rankings'], auth: 'user',
    query: z.object({
      period: walkClosedPeriod.default('week'),
      metric: walkRankingMetric.default('distance'),
      limit: z.coerce.number().int().min(1).max(MAX_HALL_OF_FAME_PERIODS).default(10).meta({ description: 'Periods per page' }),
      before: calendarDate.optional().meta({ description: 'Periods starting before this day (nextBefore of the previous page)' }),
    }),
    responses: { 200: { description: 'Each period keeps its top 10 (more when tied at the cut), written once after it closed', schema: walkHallOfFameDto } },
    handler: async ({ query }) => ({ body: await deps.rankings.hallOfFame(query) }),
  });
  api.route({
    method: 'get', path: '/rankings/walks/live', summary: 'The instant ranking, moved by each trusted walk as it is stored (whole field only)', tags: ['walk', 'rankings'], auth: 'user',
    query: z.object({
      period: walkLivePeriod.default('week'),
      metric: walkRankingMetric.default('distance'),
      limit: z.coerce.number().int().min(1).max(MAX_WALK_RANKING_LIMIT).default(MAX_WALK_RANKING_LIMIT),
    }),
    responses: { 200: { description: 'Feedback between recomputes; GET /rankings/walks is the record', schema: walkLiveRankingDto } },
    handler: async ({ auth, query }) => ({ body: await deps.rankings.live(auth.userId, query) }),
  });
}
