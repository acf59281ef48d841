// Rankings shared by the modules (chat's characters and stories, walk's walkers): live scores per
// board in four periods (daily, weekly from Monday, monthly, all time) with KST boundaries from the
// injected clock, the top N with "my" rank, trending (growth over the previous day), and daily
// snapshots of the closing ranks.
//
// Postgres is the source of truth: `add` is one upsert (`score = score + ?`) over the four periods'
// rows, so concurrent adds are exact. With Redis the same scores are mirrored in sorted sets that
// reads use; a Redis failure never fails an add, and the sets heal from Postgres:
// - Redis takes a member's score with the row's version and keeps it only when that version is newer
//   (SET_SCORES below). Writes may therefore land late, twice or out of order, and a rebuild may
//   run while adds continue: Redis converges on Postgres either way.
// - A period's set is read only once a rebuild has marked it complete (its `:built` key). A flushed
//   or restarted Redis loses the mark with the data, so reads go back to Postgres at once and the
//   first of them starts a rebuild of that period; the daily cron rebuilds every board's current
//   periods too (cron/rankingSnapshots.ts), which also heals writes Redis missed while it was down.
//
// Ties: equal scores rank by item id, byte order, descending — what ZREVRANGE does with equal
// scores (members compared as bytes), and what Postgres does with item_id in the "C" collation.
// Ranks are positions (1, 2, 3 …), never shared. Scores are integers; Redis holds them as doubles,
// exact up to 2^53.
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { z } from 'zod';
import { badRequest } from '../errors.ts';
import { zoneCalendar, type Clock } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import {
  RANKING_ADD, RANKING_BOARDS, RANKING_PAGE, RANKING_RANK_OF, RANKING_SNAPSHOT_DELETE, RANKING_SNAPSHOT_INSERT,
  RANKING_SNAPSHOT_READ, RANKING_TOP, RANKING_TRENDING,
} from './rankings.sql.ts';

// The issue fixes rankings to Korean days, whatever zone the server renders in.
export const RANKING_ZONE = 'Asia/Seoul';
const calendar = zoneCalendar(RANKING_ZONE);

export const rankingPeriod = z.enum(['daily', 'weekly', 'monthly', 'all']).meta({ description: 'daily, weekly (from Monday) and monthly in KST, or all time' });
export type RankingPeriod = z.infer<typeof rankingPeriod>;
const PERIODS: readonly RankingPeriod[] = ['daily', 'weekly', 'monthly', 'all'];

export const MAX_RANKING_LIMIT = 100;

export const rankingEntryDto = z.object({ itemId: z.string(), score: z.number().int(), rank: z.number().int().min(1) }).meta({ id: 'RankingEntry' });
export type RankingEntry = z.infer<typeof rankingEntryDto>;
export const myRankDto = z.object({ rank: z.number().int().min(1), score: z.number().int() }).meta({ id: 'MyRank' });
export type MyRank = z.infer<typeof myRankDto>;
export const trendingEntryDto = z
  .object({ itemId: z.string(), growth: z.number().int(), score: z.number().int(), previous: z.number().int(), rank: z.number().int().min(1) })
  .meta({ id: 'TrendingEntry', description: "growth = today's score − yesterday's (KST days)" });
export type TrendingEntry = z.infer<typeof trendingEntryDto>;

// A period instance: its kind, its first local day (the key in both stores) and its instants.
export type PeriodWindow = { kind: RankingPeriod; start: string; startsAt: Date; endsAt: Date | null };

// Every board's "all" period is keyed by this date.
const ALL_TIME_START = '1970-01-01';
// A period's Redis set outlives its end by a day: yesterday's winners are still read from Redis,
// and a late add or a node with a skewed clock cannot re-create a key that never expires.
const REDIS_GRACE_MS = 24 * 3600_000;
const REBUILD_PAGE = 2000;
// After a failed rebuild a node waits this long before a read tries again.
const REBUILD_RETRY_MS = 30_000;
const BOARD_NAME = /^[a-z0-9][a-z0-9_.-]{0,99}$/;

// KEYS: the sorted set, its versions hash. ARGV: expire-at (unix seconds, 0 = never), then
// (member, score, version) triples. A member's score changes only when the version is newer.
const SET_SCORES = `
local changed = 0
for i = 2, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[2], ARGV[i])
  if (not current) or tonumber(current) < tonumber(ARGV[i + 2]) then
    redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 2])
    redis.call('ZADD', KEYS[1], ARGV[i + 1], ARGV[i])
    changed = changed + 1
  end
end
local at = tonumber(ARGV[1])
if at > 0 then
  redis.call('EXPIREAT', KEYS[1], at)
  redis.call('EXPIREAT', KEYS[2], at)
end
return changed`;

export function periodWindow(kind: RankingPeriod, at: Date): PeriodWindow {
  if (kind === 'all') return { kind, start: ALL_TIME_START, startsAt: new Date(0), endsAt: null };
  const { start, end } = calendar.period(kind === 'daily' ? 'day' : kind === 'weekly' ? 'week' : 'month', at);
  return { kind, start: calendar.localDate(start), startsAt: start, endsAt: end };
}

// An instant inside a KST calendar day (YYYY-MM-DD): noon UTC is 21:00 there.
function instantOfDay(day: string): Date {
  const at = new Date(`${day}T12:00:00Z`);
  if (Number.isNaN(at.getTime()) || calendar.localDate(at) !== day) throw badRequest('invalid_day', 'day: must be a date, YYYY-MM-DD', 'day');
  return at;
}

const previousDay = (day: string): string => calendar.localDate(new Date(instantOfDay(day).getTime() - 24 * 3600_000));

export type RankingServiceDeps = {
  em: Em;
  // Unset: Postgres answers every read.
  redis?: Redis;
  // e.g. `${REDIS_KEY_PREFIX}:rankings`; every key of the service starts with it.
  keyPrefix: string;
  clock: Clock;
  logger: Logger;
};

export type Leaderboard = {
  period: { kind: RankingPeriod; start: string };
  items: RankingEntry[];
  mine: MyRank | null;
  // Which store answered (the other would have answered the same).
  source: 'redis' | 'postgres';
};

export function createRankingService(deps: RankingServiceDeps) {
  const { em, redis, clock, logger } = deps;
  const defined = new Set<string>();
  // Rebuilds started by reads of an unmarked set, by key: one at a time per key on this node.
  const rebuilding = new Map<string, Promise<void>>();
  const lastFailedRebuild = new Map<string, number>();
  let redisFailing = false;

  const keyOf = (board: string, w: { kind: RankingPeriod; start: string }) => `${deps.keyPrefix}:${board}:${w.kind}:${w.start}`;
  const expireAt = (w: PeriodWindow) => (w.endsAt ? Math.ceil((w.endsAt.getTime() + REDIS_GRACE_MS) / 1000) : 0);
  // A period whose set would already have expired is Postgres's alone.
  const liveInRedis = (w: PeriodWindow) => !w.endsAt || w.endsAt.getTime() + REDIS_GRACE_MS > clock.now().getTime();
  // Never wait on a Redis that is reconnecting: the command would queue while the caller waits.
  const redisUsable = () => redis !== undefined && redis.status === 'ready';

  function redisFailed(err: unknown, what: string): void {
    // Logged once per outage; the sets heal from Postgres (a read's rebuild, or the daily cron).
    if (!redisFailing) logger.warn({ err: (err as Error)?.message ?? String(err) }, `rankings: Redis ${what} failed; answering from Postgres until it is rebuilt`);
    redisFailing = true;
  }

  async function setScores(key: string, w: PeriodWindow, rows: { item: string; score: string | number; version: string | number }[]): Promise<void> {
    const args: (string | number)[] = [expireAt(w)];
    for (const r of rows) args.push(r.item, String(r.score), String(r.version));
    await redis!.eval(SET_SCORES, 2, key, `${key}:v`, ...args);
  }

  // Copies one period of a board from Postgres into its set, then marks the set complete. Adds may
  // run meanwhile: versions keep the newer value whichever write lands last.
  async function rebuildPeriod(board: string, w: PeriodWindow): Promise<number> {
    if (!redis || !liveInRedis(w)) return 0;
    const key = keyOf(board, w);
    const db = em.fork();
    let after = '';
    let copied = 0;
    for (;;) {
      const rows = await db.execute<{ item_id: string; score: string; version: string }[]>(RANKING_PAGE, [board, w.kind, w.start, after, REBUILD_PAGE]);
      if (rows.length === 0) break;
      await setScores(key, w, rows.map((r) => ({ item: r.item_id, score: r.score, version: r.version })));
      copied += rows.length;
      after = rows[rows.length - 1].item_id;
      if (rows.length < REBUILD_PAGE) break;
    }
    const at = expireAt(w);
    if (at > 0) await redis.set(`${key}:built`, '1', 'EXAT', at);
    else await redis.set(`${key}:built`, '1');
    return copied;
  }

  // A read found the set unmarked: rebuild it in the background (the read itself goes to Postgres).
  function rebuildSoon(board: string, w: PeriodWindow): void {
    const key = keyOf(board, w);
    if (rebuilding.has(key) || Date.now() - (lastFailedRebuild.get(key) ?? 0) < REBUILD_RETRY_MS) return;
    const run = rebuildPeriod(board, w)
      .then(() => undefined)
      .catch((err) => {
        lastFailedRebuild.set(key, Date.now());
        redisFailed(err, 'rebuild');
      })
      .finally(() => rebuilding.delete(key));
    rebuilding.set(key, run);
  }

  function checkLimit(limit: number | undefined): number {
    const n = limit ?? MAX_RANKING_LIMIT;
    if (!Number.isInteger(n) || n < 1 || n > MAX_RANKING_LIMIT) throw badRequest('invalid_limit', `limit: between 1 and ${MAX_RANKING_LIMIT}`, 'limit');
    return n;
  }

  function checkItem(itemId: string): void {
    if (typeof itemId !== 'string' || itemId.length === 0 || itemId.length > 200) throw badRequest('invalid_item', 'itemId: 1 to 200 characters', 'itemId');
  }

  async function fromRedis(board: string, w: PeriodWindow, limit: number, itemId?: string): Promise<Omit<Leaderboard, 'period' | 'source'> | null> {
    const key = keyOf(board, w);
    const pipe = redis!.pipeline().exists(`${key}:built`).zrevrange(key, 0, limit - 1, 'WITHSCORES');
    if (itemId !== undefined) pipe.zrevrank(key, itemId).zscore(key, itemId);
    const results = (await pipe.exec())!;
    for (const [err] of results) if (err) throw err;
    if (results[0][1] !== 1) return null;
    const flat = results[1][1] as string[];
    const items: RankingEntry[] = [];
    for (let i = 0; i < flat.length; i += 2) items.push({ itemId: flat[i], score: Number(flat[i + 1]), rank: i / 2 + 1 });
    let mine: MyRank | null = null;
    if (itemId !== undefined && results[2][1] !== null) mine = { rank: Number(results[2][1]) + 1, score: Number(results[3][1]) };
    return { items, mine };
  }

  async function fromPostgres(board: string, w: PeriodWindow, limit: number, itemId?: string): Promise<Omit<Leaderboard, 'period' | 'source'>> {
    // Two pooled connections at once: the top and the rank do not wait for each other.
    const [top, mineRows] = await Promise.all([
      em.fork().execute<{ item_id: string; score: string }[]>(RANKING_TOP, [board, w.kind, w.start, limit]),
      itemId === undefined ? [] : em.fork().execute<{ score: string; rank: string }[]>(RANKING_RANK_OF, [board, w.kind, w.start, itemId]),
    ]);
    return {
      items: top.map((r, i) => ({ itemId: r.item_id, score: Number(r.score), rank: i + 1 })),
      mine: mineRows[0] ? { rank: Number(mineRows[0].rank), score: Number(mineRows[0].score) } : null,
    };
  }

  function define(spec: { board: string }) {
    const { board } = spec;
    if (!BOARD_NAME.test(board)) throw new Error(`ranking board "${board}": lower-case letters, digits, _ . - (at most 100)`);
    if (defined.has(board)) throw new Error(`ranking board ${board} is defined twice`);
    defined.add(board);
    return boardOps(board);
  }

  // A board's operations; the daily job uses them for boards this node does not define too.
  function boardOps(board: string) {

    // Adds `points` (an integer, negative to take back) to the item in every period holding `at`.
    // Resolves once Postgres has it; Redis follows and may miss it (see the top of the file).
    async function add(itemId: string, points: number, at: Date = clock.now()): Promise<void> {
      checkItem(itemId);
      if (!Number.isSafeInteger(points)) throw badRequest('invalid_points', 'points: an integer', 'points');
      if (points === 0) return;
      const windows = PERIODS.map((kind) => periodWindow(kind, at));
      const rows = await em.fork().execute<{ period_kind: RankingPeriod; period_start: string; score: string; version: string }[]>(
        RANKING_ADD,
        windows.flatMap((w) => [board, w.start, itemId, points]),
      );
      if (!redisUsable()) return;
      try {
        const pipe = redis!.pipeline();
        for (const row of rows) {
          const w = windows.find((x) => x.kind === row.period_kind)!;
          if (!liveInRedis(w)) continue;
          const key = keyOf(board, w);
          pipe.eval(SET_SCORES, 2, key, `${key}:v`, expireAt(w), itemId, row.score, row.version);
        }
        const results = (await pipe.exec()) ?? [];
        for (const [err] of results) if (err) throw err;
        redisFailing = false;
      } catch (err) {
        redisFailed(err, 'write');
      }
    }

    // The top `limit` (≤ 100) of the period holding `at` (now), and `itemId`'s rank and score in it
    // (null when it has none).
    async function leaderboard(period: RankingPeriod, opts: { limit?: number; at?: Date; itemId?: string } = {}): Promise<Leaderboard> {
      const limit = checkLimit(opts.limit);
      if (opts.itemId !== undefined) checkItem(opts.itemId);
      const w = periodWindow(period, opts.at ?? clock.now());
      const periodOut = { kind: w.kind, start: w.start };
      if (redisUsable() && liveInRedis(w)) {
        try {
          const answer = await fromRedis(board, w, limit, opts.itemId);
          if (answer) return { period: periodOut, ...answer, source: 'redis' };
          rebuildSoon(board, w);
        } catch (err) {
          redisFailed(err, 'read');
        }
      }
      return { period: periodOut, ...(await fromPostgres(board, w, limit, opts.itemId)), source: 'postgres' };
    }

    async function top(period: RankingPeriod, opts: { limit?: number; at?: Date } = {}): Promise<RankingEntry[]> {
      return (await leaderboard(period, opts)).items;
    }

    async function rankOf(period: RankingPeriod, itemId: string, opts: { at?: Date } = {}): Promise<MyRank | null> {
      return (await leaderboard(period, { ...opts, limit: 1, itemId })).mine;
    }

    // Items by how much today's score grew over yesterday's (KST days of `at`): growth = today −
    // yesterday (0 when it had none), growing items only; ties by today's score, then item id as
    // everywhere. Postgres only: it is a join of two days, not a read of one set.
    async function trending(opts: { at?: Date; limit?: number } = {}): Promise<TrendingEntry[]> {
      const limit = checkLimit(opts.limit);
      const today = periodWindow('daily', opts.at ?? clock.now()).start;
      const rows = await em.fork().execute<{ item_id: string; score: string; previous: string; growth: string }[]>(RANKING_TRENDING, [previousDay(today), board, today, limit]);
      return rows.map((r, i) => ({ itemId: r.item_id, growth: Number(r.growth), score: Number(r.score), previous: Number(r.previous), rank: i + 1 }));
    }

    // Writes the closing ranks of `day` (YYYY-MM-DD, KST) in every period holding it, replacing any
    // earlier snapshot of the board and day. Answers the rows written per period.
    async function snapshot(day: string): Promise<Record<RankingPeriod, number>> {
      const at = instantOfDay(day);
      const [d, wk, mo] = (['daily', 'weekly', 'monthly'] as const).map((k) => periodWindow(k, at));
      const lastDay = (w: PeriodWindow) => calendar.localDate(new Date(w.endsAt!.getTime() - 1));
      const counts = await inTransaction(em.fork(), async (tx) => {
        await tx.execute(RANKING_SNAPSHOT_DELETE, [board, day]);
        return tx.execute<{ period_kind: RankingPeriod; n: string }[]>(RANKING_SNAPSHOT_INSERT, [
          d.start, day, wk.start, lastDay(wk), mo.start, lastDay(mo), ALL_TIME_START, board, day, board, board, day,
        ]);
      });
      const out = { daily: 0, weekly: 0, monthly: 0, all: 0 };
      for (const c of counts) out[c.period_kind] = Number(c.n);
      return out;
    }

    // A snapshot's ranks, best first.
    async function snapshotTop(day: string, period: RankingPeriod, opts: { limit?: number } = {}): Promise<RankingEntry[]> {
      instantOfDay(day);
      const rows = await em.fork().execute<{ item_id: string; rank: number; score: string }[]>(RANKING_SNAPSHOT_READ, [board, day, period, checkLimit(opts.limit)]);
      return rows.map((r) => ({ itemId: r.item_id, rank: Number(r.rank), score: Number(r.score) }));
    }

    return {
      board,
      add,
      leaderboard,
      top,
      rankOf,
      trending,
      snapshot,
      snapshotTop,
      // Re-creates the board's live sets (the periods holding now) from Postgres. Rows copied per period.
      rebuild: () => rebuildBoard(board),
    };
  }

  async function rebuildBoard(board: string): Promise<Record<RankingPeriod, number>> {
    const now = clock.now();
    const out = { daily: 0, weekly: 0, monthly: 0, all: 0 };
    for (const kind of PERIODS) out[kind] = await rebuildPeriod(board, periodWindow(kind, now));
    return out;
  }

  // Every board with scores, defined on this node or not (the cron process may serve no module).
  async function allBoards(): Promise<string[]> {
    const rows = await em.fork().execute<{ board: string }[]>(RANKING_BOARDS);
    return rows.map((r) => r.board);
  }

  // The daily job: the previous KST day's snapshot of every board, then every board's live sets
  // rebuilt (skipped without Redis). Either half failing for one board does not stop the others.
  async function runDaily(opts: { day?: string; signal?: AbortSignal } = {}): Promise<{ day: string; boards: number; snapshotRows: number; rebuiltRows: number; failed: string[] }> {
    const day = opts.day ?? previousDay(calendar.localDate(clock.now()));
    const failed: string[] = [];
    let snapshotRows = 0;
    let rebuiltRows = 0;
    const names = await allBoards();
    for (const board of names) {
      if (opts.signal?.aborted) break;
      try {
        snapshotRows += Object.values(await boardOps(board).snapshot(day)).reduce((a, b) => a + b, 0);
        if (redis) rebuiltRows += Object.values(await rebuildBoard(board)).reduce((a, b) => a + b, 0);
      } catch (err) {
        logger.error({ err, board }, 'rankings: daily snapshot or rebuild failed');
        failed.push(board);
      }
    }
    return { day, boards: names.length, snapshotRows, rebuiltRows, failed };
  }

  return {
    define,
    runDaily,
    allBoards,
    // Resolves when this node's background rebuilds are done (tests, shutdown).
    settled: async () => {
      await Promise.all([...rebuilding.values()]);
    },
  };
}

export type RankingService = ReturnType<typeof createRankingService>;
export type RankingBoard = ReturnType<RankingService['define']>;

// What a module is given: boards named within the module (`chat.characters`).
export type ModuleRankings = Pick<RankingService, 'define'>;

export function moduleRankings(rankings: RankingService, module: string): ModuleRankings {
  return { define: (spec) => rankings.define({ ...spec, board: `${module}.${spec.board}` }) };
}
