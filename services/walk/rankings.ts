// Walk rankings (seed 003 `ranking_service.calculate()`, issue 13): walkers by distance and by walk
// count in the current KST week (from Monday), month and all time, trusted walks only, over the
// whole field, the viewer's region or the viewer's friends (the people they follow, and them), as a
// top N with the viewer's own row or as "around me"; and a hall of fame of every closed week and
// month.
//
// Two sources, on purpose:
// - The truth is the hourly recompute (cron/walk/rankings.ts): one SQL pass of window functions over
//   the walks (rankings.sql.ts) writes walk_rankings whole, delete + insert in one transaction, so a
//   reader sees the previous hour's table or the new one, never half of either. Regions, friends,
//   "around me", shared ranks for ties and the hall of fame all need the whole field ranked at once,
//   which is what window functions do well and what the platform's per-item sorted sets
//   (services/rankings) cannot: they hold one flat board per period, nothing per region, and a
//   board cannot be reset to a recomputed truth.
// - The platform's ranking boards (`walk.distance`, `walk.count`) get each trusted walk as it is
//   stored, for the instant "where am I now" after a walk (GET /rankings/walks/live, KST day, week,
//   month and all time, whole field only). They are added to after the walk commits, so a crash in
//   between can leave a board short by that walk, and a walk deleted later stays on it: they are
//   feedback, not record. Everything else reads the recompute.
//
// Period boundaries come from the injected clock and the KST calendar (the platform rankings'
// periodWindow), never from the database's now(); walks are placed by their KST local_date.
import type { Logger } from 'pino';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { periodWindow, type RankingBoard, type RankingPeriod } from '../rankings/rankings.ts';
import type { Clock } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import type { WalkCompleteHook } from './walks.ts';
import {
  WALK_FRIENDS_AROUND, WALK_FRIENDS_TOP, WALK_HALL_OF_FAME_CLOSE, WALK_HALL_OF_FAME_LIST, WALK_MINE_ALL, WALK_MINE_REGION, WALK_NICKNAMES,
  WALK_PROFILE_REGION, WALK_RANGE_ALL, WALK_RANGE_REGION, WALK_RANKINGS_LOCK, WALK_RANKINGS_NEXT, WALK_RANKINGS_NEXT_INDEXES, WALK_RANKINGS_RECOMPUTE, WALK_RANKINGS_SWAP, WALK_RANKINGS_WORK_MEM, WALK_TOP_ALL, WALK_TOP_REGION,
} from './rankings.sql.ts';
import { pgArray } from '../pgArray.ts';

export const walkRankingPeriod = z.enum(['week', 'month', 'all']).meta({ description: 'The current KST week (from Monday), month, or all time' });
export type WalkRankingPeriod = z.infer<typeof walkRankingPeriod>;
export const walkClosedPeriod = z.enum(['week', 'month']).meta({ description: 'KST weeks (from Monday) or months' });
export type WalkClosedPeriod = z.infer<typeof walkClosedPeriod>;
export const walkLivePeriod = z.enum(['day', 'week', 'month', 'all']).meta({ description: 'The current KST day, week (from Monday), month, or all time' });
export type WalkLivePeriod = z.infer<typeof walkLivePeriod>;
export const walkRankingMetric = z.enum(['distance', 'count']).meta({ description: 'distance: metres walked; count: walks' });
export type WalkRankingMetric = z.infer<typeof walkRankingMetric>;
export const walkRankingScope = z.enum(['all', 'region', 'friends']).meta({ description: 'everyone; walkers of your profile region; you and the people you follow' });
export type WalkRankingScope = z.infer<typeof walkRankingScope>;

export const MAX_WALK_RANKING_LIMIT = 100;
export const MAX_AROUND_SPAN = 25;
export const MAX_HALL_OF_FAME_PERIODS = 52;
// How many a closed period keeps (more when walkers tie at the cut).
export const HALL_OF_FAME_SIZE = 10;
// A week or month is closed this long after it ends: a walk that ended just before midnight, on a
// phone that came back online a few minutes later, still counts for it.
export const CLOSE_GRACE_MS = 3600_000;

export const walkRankEntryDto = z
  .object({
    rank: z.number().int().min(1).meta({ description: 'Shared by equal values (1, 2, 2, 4)' }),
    position: z.number().int().min(1).meta({ description: 'Unique order: ties listed by user id' }),
    userId: z.uuid(),
    nickname: z.string().nullable(),
    value: z.number().int().meta({ description: 'Metres, or walks' }),
  })
  .meta({ id: 'WalkRankEntry' });
export type WalkRankEntry = z.infer<typeof walkRankEntryDto>;

const periodDto = z.object({ kind: z.string(), start: z.string().meta({ description: 'First KST day (1970-01-01 for all time)' }) });

export const walkRankingDto = z
  .object({
    period: periodDto,
    metric: walkRankingMetric,
    scope: walkRankingScope,
    computedAt: z.string().nullable().meta({ description: 'When the hourly recompute wrote these ranks; null before the first' }),
    items: z.array(walkRankEntryDto),
    mine: walkRankEntryDto.nullable().meta({ description: 'Your row in this scope; null without a trusted walk in the period' }),
  })
  .meta({ id: 'WalkRanking' });
export type WalkRanking = z.infer<typeof walkRankingDto>;

export const walkHallOfFameDto = z
  .object({
    items: z.array(z.object({ period: periodDto, winners: z.array(walkRankEntryDto.omit({ position: true })) })),
    nextBefore: z.string().nullable().meta({ description: 'Pass as `before` for older periods; null at the end' }),
  })
  .meta({ id: 'WalkHallOfFame' });
export type WalkHallOfFame = z.infer<typeof walkHallOfFameDto>;

export const walkLiveRankingDto = z
  .object({
    period: periodDto,
    metric: walkRankingMetric,
    items: z.array(walkRankEntryDto.omit({ position: true })),
    mine: z.object({ rank: z.number().int().min(1), value: z.number().int() }).nullable(),
  })
  .meta({ id: 'WalkLiveRanking' });
export type WalkLiveRanking = z.infer<typeof walkLiveRankingDto>;

type RankRow = { user_id: string; nickname: string | null; value: string; rank: string | number; position: string | number; period_start: string; computed_at: Date };

const toEntry = (r: RankRow): WalkRankEntry => ({ rank: Number(r.rank), position: Number(r.position), userId: r.user_id, nickname: r.nickname, value: Number(r.value) });

const SHARED_PERIOD: Record<WalkRankingPeriod, RankingPeriod> = { week: 'weekly', month: 'monthly', all: 'all' };
const LIVE_PERIOD: Record<WalkLivePeriod, RankingPeriod> = { day: 'daily', week: 'weekly', month: 'monthly', all: 'all' };

export type WalkRankingBoards = Record<WalkRankingMetric, RankingBoard>;

export type RecomputeResult = {
  computedAt: string;
  periods: { week: string; month: string };
  rows: number;
  // Closed periods written by this run (none when another run had written them).
  closed: { period: WalkClosedPeriod; start: string; winners: number }[];
  ms: number;
};

export function createWalkRankingService(deps: { em: Em; clock: Clock; logger: Logger; boards?: WalkRankingBoards; hallOfFameSize?: number }) {
  const { em, clock, logger, boards } = deps;
  const hallOfFameSize = deps.hallOfFameSize ?? HALL_OF_FAME_SIZE;

  function checkLimit(n: number, max: number, field: string): number {
    if (!Number.isInteger(n) || n < 1 || n > max) throw badRequest(`invalid_${field}`, `${field}: between 1 and ${max}`, field);
    return n;
  }

  // The week and month holding `at`, and the ones before them (those the hall of fame closes).
  function windows(at: Date) {
    const week = periodWindow('weekly', at);
    const month = periodWindow('monthly', at);
    const before = (w: typeof week) => periodWindow(w.kind, new Date(w.startsAt.getTime() - 1));
    return { today: periodWindow('daily', at).start, week, month, previousWeek: before(week), previousMonth: before(month) };
  }

  // The hourly truth. Runs under a transaction-scoped advisory lock, so concurrent runs queue and
  // each replaces the table whole (built beside it, indexed, analysed, swapped in: rankings.sql.ts); then closes the previous week and month once CLOSE_GRACE_MS has
  // passed since they ended (a claim row makes that once, whichever run gets there first).
  async function recompute(opts: { signal?: AbortSignal } = {}): Promise<RecomputeResult> {
    const started = performance.now();
    const now = clock.now();
    const w = windows(now);
    const rows = await inTransaction(em.fork(), async (tx) => {
      await tx.execute(WALK_RANKINGS_LOCK);
      await tx.execute(WALK_RANKINGS_WORK_MEM);
      for (const statement of WALK_RANKINGS_NEXT) await tx.execute(statement);
      const res = await tx.execute(WALK_RANKINGS_RECOMPUTE, [
        w.week.start, w.week.start, w.month.start, w.month.start, w.today, w.week.start, w.week.start, w.month.start, w.month.start, now,
      ], 'run');
      for (const statement of [...WALK_RANKINGS_NEXT_INDEXES, ...WALK_RANKINGS_SWAP]) await tx.execute(statement);
      return Number((res as { affectedRows?: number }).affectedRows ?? 0);
    });
    const closed: RecomputeResult['closed'] = [];
    for (const [period, p] of [['week', w.previousWeek], ['month', w.previousMonth]] as const) {
      if (opts.signal?.aborted) break;
      if (now.getTime() < p.endsAt!.getTime() + CLOSE_GRACE_MS) continue;
      const written = await inTransaction(em.fork(), (tx) =>
        tx.execute<{ metric: string }[]>(WALK_HALL_OF_FAME_CLOSE, [period, p.start, now, p.start, dayAfterLast(p), hallOfFameSize]));
      if (written.length > 0) closed.push({ period, start: p.start, winners: written.length });
    }
    const ms = Math.round(performance.now() - started);
    if (closed.length > 0) logger.info({ closed }, 'walk rankings: hall of fame written');
    return { computedAt: now.toISOString(), periods: { week: w.week.start, month: w.month.start }, rows, closed, ms };
  }

  // A closed period's end as a KST date (exclusive), the bound on walks.local_date.
  const dayAfterLast = (p: ReturnType<typeof periodWindow>) => periodWindow('daily', p.endsAt!).start;

  async function viewerRegion(viewerId: string): Promise<string> {
    const rows = await em.fork().execute<{ region: string | null }[]>(WALK_PROFILE_REGION, [viewerId]);
    const region = rows[0]?.region;
    if (!region) throw badRequest('no_region', 'scope: region needs a region in your walk profile (PUT /walk/profile)', 'scope');
    return region;
  }

  function answer(period: WalkRankingPeriod, metric: WalkRankingMetric, scope: WalkRankingScope, rows: RankRow[], mine: RankRow | undefined): WalkRanking {
    const any = rows[0] ?? mine;
    return {
      // Rows keep the period they were computed for: in the minutes after a boundary, before the
      // next recompute, that is the period just ended, and the answer says so.
      period: { kind: period, start: any?.period_start ?? periodWindow(SHARED_PERIOD[period], clock.now()).start },
      metric,
      scope,
      computedAt: any ? new Date(any.computed_at).toISOString() : null,
      items: rows.map(toEntry),
      mine: mine ? toEntry(mine) : null,
    };
  }

  type Query = { period: WalkRankingPeriod; metric: WalkRankingMetric; scope: WalkRankingScope };

  // The top `limit` of the scope and the viewer's own row in it.
  async function ranking(viewerId: string, q: Query & { limit?: number }): Promise<WalkRanking> {
    const limit = checkLimit(q.limit ?? MAX_WALK_RANKING_LIMIT, MAX_WALK_RANKING_LIMIT, 'limit');
    if (q.scope === 'friends') {
      const rows = await em.fork().execute<RankRow[]>(WALK_FRIENDS_TOP, [viewerId, viewerId, q.period, q.metric, limit, viewerId]);
      return answer(q.period, q.metric, q.scope, rows.filter((r) => Number(r.position) <= limit), rows.find((r) => r.user_id === viewerId));
    }
    const region = q.scope === 'region' ? await viewerRegion(viewerId) : null;
    // Two pooled connections: the top and my row do not wait for each other.
    const [top, mine] = await Promise.all([
      region === null
        ? em.fork().execute<RankRow[]>(WALK_TOP_ALL, [q.period, q.metric, limit])
        : em.fork().execute<RankRow[]>(WALK_TOP_REGION, [q.period, q.metric, region, limit]),
      region === null
        ? em.fork().execute<RankRow[]>(WALK_MINE_ALL, [q.period, q.metric, viewerId])
        : em.fork().execute<RankRow[]>(WALK_MINE_REGION, [q.period, q.metric, viewerId, region]),
    ]);
    return answer(q.period, q.metric, q.scope, top, mine[0]);
  }

  // The viewer's row with up to `span` rows above and below it (fewer at the top or the bottom);
  // no rows when the viewer has no trusted walk in the period.
  async function aroundMe(viewerId: string, q: Query & { span?: number }): Promise<WalkRanking> {
    const span = checkLimit(q.span ?? 5, MAX_AROUND_SPAN, 'span');
    if (q.scope === 'friends') {
      const rows = await em.fork().execute<RankRow[]>(WALK_FRIENDS_AROUND, [viewerId, viewerId, q.period, q.metric, viewerId, span, span]);
      return answer(q.period, q.metric, q.scope, rows, rows.find((r) => r.user_id === viewerId));
    }
    const region = q.scope === 'region' ? await viewerRegion(viewerId) : null;
    const mineRows = region === null
      ? await em.fork().execute<RankRow[]>(WALK_MINE_ALL, [q.period, q.metric, viewerId])
      : await em.fork().execute<RankRow[]>(WALK_MINE_REGION, [q.period, q.metric, viewerId, region]);
    const mine = mineRows[0];
    if (!mine) return answer(q.period, q.metric, q.scope, [], undefined);
    const at = Number(mine.position);
    const rows = region === null
      ? await em.fork().execute<RankRow[]>(WALK_RANGE_ALL, [q.period, q.metric, at - span, at + span])
      : await em.fork().execute<RankRow[]>(WALK_RANGE_REGION, [q.period, q.metric, region, at - span, at + span]);
    return answer(q.period, q.metric, q.scope, rows, mine);
  }

  // Closed periods, newest first, `limit` at a time; `before` (a period start) pages back.
  async function hallOfFame(q: { period: WalkClosedPeriod; metric: WalkRankingMetric; limit?: number; before?: string }): Promise<WalkHallOfFame> {
    const limit = checkLimit(q.limit ?? 10, MAX_HALL_OF_FAME_PERIODS, 'limit');
    const rows = await em.fork().execute<{ period_start: string; user_id: string; nickname: string | null; rank: number; value: string }[]>(
      WALK_HALL_OF_FAME_LIST, [q.period, q.metric, q.before ?? '9999-12-31', limit, q.period, q.metric]);
    const items: WalkHallOfFame['items'] = [];
    for (const r of rows) {
      if (items.at(-1)?.period.start !== r.period_start) items.push({ period: { kind: q.period, start: r.period_start }, winners: [] });
      items.at(-1)!.winners.push({ rank: Number(r.rank), userId: r.user_id, nickname: r.nickname, value: Number(r.value) });
    }
    return { items, nextBefore: items.length === limit ? items.at(-1)!.period.start : null };
  }

  // The platform boards' instant view (see the top of the file).
  async function live(viewerId: string, q: { period: WalkLivePeriod; metric: WalkRankingMetric; limit?: number }): Promise<WalkLiveRanking> {
    const limit = checkLimit(q.limit ?? MAX_WALK_RANKING_LIMIT, MAX_WALK_RANKING_LIMIT, 'limit');
    const period = LIVE_PERIOD[q.period];
    if (!boards) return { period: { kind: q.period, start: periodWindow(period, clock.now()).start }, metric: q.metric, items: [], mine: null };
    const board = await boards[q.metric].leaderboard(period, { limit, itemId: viewerId });
    const names = new Map<string, string>();
    if (board.items.length > 0) {
      const rows = await em.fork().execute<{ user_id: string; nickname: string }[]>(WALK_NICKNAMES, [pgArray(board.items.map((i) => i.itemId))]);
      for (const r of rows) names.set(r.user_id, r.nickname);
    }
    return {
      period: { kind: q.period, start: board.period.start },
      metric: q.metric,
      items: board.items.map((i) => ({ rank: i.rank, userId: i.itemId, nickname: names.get(i.itemId) ?? null, value: i.score })),
      mine: board.mine ? { rank: board.mine.rank, value: board.mine.score } : null,
    };
  }

  // Feeds the live boards once the walk has committed (a rolled-back walk adds nothing). The walk
  // counts on its KST local date, like the recompute: noon KST of that day is inside every period
  // holding it, whichever instant the date was taken from.
  const onWalkComplete: WalkCompleteHook = async (tx, walk) => {
    if (!boards || !walk.trusted) return;
    const at = new Date(`${walk.localDate}T03:00:00Z`);
    onCommitted(tx, () => {
      void Promise.all([boards.distance.add(walk.userId, walk.distanceM, at), boards.count.add(walk.userId, 1, at)])
        .catch((err: unknown) => logger.warn({ err, walkId: walk.id }, 'walk rankings: live board not updated (the hourly recompute is unaffected)'));
    });
  };

  return { recompute, ranking, aroundMe, hallOfFame, live, onWalkComplete };
}

export type WalkRankingService = ReturnType<typeof createWalkRankingService>;
