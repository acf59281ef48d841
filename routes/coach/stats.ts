// GET /admin/stats: the coach's operating figures (admin role).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { CoachStatsService } from '../../services/coach/stats.ts';
import { calendarDate } from '../../services/time.ts';

const figures = z.object({
  calls: z.number().int(),
  costUsd: z.number(),
  cacheHits: z.object({ exact: z.number().int(), semantic: z.number().int() }),
  cacheHitRate: z.object({ exact: z.number(), semantic: z.number(), total: z.number() }),
  quotaRefusals: z.number().int(),
});
const perPlan = figures.extend({ planTier: z.string() });

export function coachStatsRoutes(api: Api, deps: { coachStats: CoachStatsService }): void {
  api.route({
    method: 'get', path: '/admin/stats',
    summary: 'Coach calls, cost (USD), cache hit rates and quota refusals, by plan and by day (days in the configured zone, KST by default; default the last 30 days)',
    tags: ['admin', 'coach'], auth: 'admin',
    query: z.object({ from: calendarDate.optional(), to: calendarDate.optional() }),
    responses: {
      200: {
        description: 'Figures for [from, to], both days included',
        schema: z.object({ from: z.string(), to: z.string(), timeZone: z.string(), totals: figures, byPlan: z.array(perPlan), byDay: z.array(figures.extend({ date: z.string(), byPlan: z.array(perPlan) })) }),
      },
    },
    handler: async ({ query }) => ({ body: await deps.coachStats.stats(query) }),
  });
}
