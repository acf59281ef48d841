// GET /admin/stats: coach calls, cost, cache hit rates and quota refusals, by plan and by day.
// The SQL is in stats.sql.ts; this file picks the range and folds the (day, plan) rows.
import { badRequest } from '../errors.ts';
import type { Em } from '../transaction.ts';
import { COACH_STATS_BY_DAY_AND_PLAN } from './stats.sql.ts';

export type StatsFigures = {
  calls: number;
  costUsd: number;
  cacheHits: { exact: number; semantic: number };
  // Share of calls answered from a cache, 0 when there were no calls.
  cacheHitRate: { exact: number; semantic: number; total: number };
  quotaRefusals: number;
};
export type CoachStats = {
  from: string;
  to: string;
  timeZone: string;
  totals: StatsFigures;
  byPlan: (StatsFigures & { planTier: string })[];
  byDay: (StatsFigures & { date: string; byPlan: (StatsFigures & { planTier: string })[] })[];
};

type Row = { day: string; plan_tier: string; calls: number; cost_usd: number; exact_hits: number; semantic_hits: number; quota_refusals: number };
type Sums = { calls: number; cost: number; exact: number; semantic: number; refusals: number };

const DEFAULT_DAYS = 30;
const MAX_DAYS = 366;
const DAY_MS = 86_400_000;

export function createCoachStatsService(deps: { em: Em; timeZone: string }) {
  // Today's date in the configured zone, as YYYY-MM-DD (en-CA formats dates that way).
  const today = () => new Intl.DateTimeFormat('en-CA', { timeZone: deps.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(new Date());
  const shift = (date: string, days: number) => new Date(Date.parse(`${date}T00:00:00Z`) + days * DAY_MS).toISOString().slice(0, 10);

  async function stats(range: { from?: string; to?: string } = {}): Promise<CoachStats> {
    const to = range.to ?? (range.from ? shift(range.from, DEFAULT_DAYS - 1) : today());
    const from = range.from ?? shift(to, -(DEFAULT_DAYS - 1));
    if (from > to) throw badRequest('invalid_range', 'must not be after `to`', 'from');
    const days = (Date.parse(to) - Date.parse(from)) / DAY_MS + 1;
    if (days > MAX_DAYS) throw badRequest('invalid_range', `the range may span at most ${MAX_DAYS} days`, 'from');

    const rows = await deps.em.fork().execute<Row[]>(COACH_STATS_BY_DAY_AND_PLAN, [from, to, deps.timeZone]);
    const total = empty();
    const plans = new Map<string, Sums>();
    const dayMap = new Map<string, { sums: Sums; plans: Map<string, Sums> }>();
    for (const r of rows) {
      const day = dayMap.get(r.day) ?? { sums: empty(), plans: new Map<string, Sums>() };
      dayMap.set(r.day, day);
      for (const s of [total, day.sums, at(plans, r.plan_tier), at(day.plans, r.plan_tier)]) add(s, r);
    }
    return {
      from,
      to,
      timeZone: deps.timeZone,
      totals: figures(total),
      byPlan: [...plans].map(([planTier, s]) => ({ planTier, ...figures(s) })),
      byDay: [...dayMap].map(([date, d]) => ({ date, ...figures(d.sums), byPlan: [...d.plans].map(([planTier, s]) => ({ planTier, ...figures(s) })) })),
    };
  }

  return { stats };
}

export type CoachStatsService = ReturnType<typeof createCoachStatsService>;

function empty(): Sums {
  return { calls: 0, cost: 0, exact: 0, semantic: 0, refusals: 0 };
}

function at(map: Map<string, Sums>, key: string): Sums {
  let s = map.get(key);
  if (!s) map.set(key, (s = empty()));
  return s;
}

function add(s: Sums, r: Row): void {
  s.calls += Number(r.calls);
  s.cost += Number(r.cost_usd);
  s.exact += Number(r.exact_hits);
  s.semantic += Number(r.semantic_hits);
  s.refusals += Number(r.quota_refusals);
}

function figures(s: Sums): StatsFigures {
  const rate = (n: number) => (s.calls === 0 ? 0 : round(n / s.calls, 4));
  return {
    calls: s.calls,
    // numeric(12,6) sums: rounded to the column's precision so float noise does not show.
    costUsd: round(s.cost, 6),
    cacheHits: { exact: s.exact, semantic: s.semantic },
    cacheHitRate: { exact: rate(s.exact), semantic: rate(s.semantic), total: rate(s.exact + s.semantic) },
    quotaRefusals: s.refusals,
  };
}

function round(n: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}
