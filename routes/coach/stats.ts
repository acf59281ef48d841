// GET /admin/stats: the coach's operating figures (admin role).
import { z } from 'zod';
import type { Api } from '../../server/http/route.ts';
import type { CoachStatsService } from '../../services/coach/stats.ts';

const day = z.string().regex(/^\d{4}-\d{2}-\d{2}$/, 'must be a date, YYYY-MM-DD').refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

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
    query: z.object({ from: day.optional(), to: day.optional() }),
    responses: {
      200: {
        description: 'Figures for [from, to], both days included',
        schema: z.object({ from: z.string(), to: z.string(), timeZone: z.string(), totals: figures, byPlan: z.array(perPlan), byDay: z.array(figures.extend({ date: z.string(), byPlan: z.array(perPlan) })) }),
      },
    },
    handler: async ({ query }) => ({ body: await deps.coachStats.stats(query) }),
  });
}
