// "Your week": once the hourly recompute has closed a KST week into the hall of fame
// (services/walk/rankings.ts, an hour after the week ends), every walker who had a trusted walk in
// it is told their final rank, once, as walk.ranking_result.
//
// The ranks are written first (walk_ranking_results, every walker of the week in one statement,
// ranked the way the hall of fame ranks: distance and walk count, shared ranks for ties), then told
// in chunks after that commits. A walker is marked told only after notify() returned, and each
// notification carries the week as its dedupe key: a run that dies midway is finished by the next
// one without telling anyone twice, and two cron nodes running at once store one notification per
// walker (the second's is a duplicate and pushes nothing).
import type { Logger } from 'pino';
import { periodWindow } from '../rankings/rankings.ts';
import type { Clock } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import { pgArray } from '../pgArray.ts';

// Walkers read and told per round.
const CHUNK = 200;
const NOTIFY_CONCURRENCY = 16;

export type RankingResultNotifier = (userId: string, input: { type: 'walk.ranking_result'; title: string; body: string; data: Record<string, unknown>; dedupeKey: string }) => Promise<unknown>;

export type RankingResultRun = { week: string; recorded: number; notified: number; failed: number };

// Parameters: week start, day after its last, week start, now, week start, week start. Writes
// nothing until the hall of fame has closed the week, and nothing once its results exist.
const RECORD_WEEK_SQL = `
  with totals as (
    select w.user_id, sum(w.distance_m) as distance, count(*)::int as walks
      from walks w
     where w.trusted and w.local_date >= ?::date and w.local_date < ?::date
     group by w.user_id)
  insert into walk_ranking_results (period_start, user_id, distance_rank, distance_m, count_rank, walks, walkers, created_at)
  select ?::date, user_id, rank() over (order by distance desc), distance, rank() over (order by walks desc), walks, count(*) over (), ?::timestamptz
    from totals
   where exists (select 1 from walk_hall_of_fame_periods where period_kind = 'week' and period_start = ?::date)
     and not exists (select 1 from walk_ranking_results where period_start = ?::date)
  on conflict do nothing
  returning user_id`;

type ResultRow = { user_id: string; distance_rank: number; distance_m: string; count_rank: number; walks: number; walkers: number };

export function createRankingResultService(deps: { em: Em; clock: Clock; logger: Logger; notify: RankingResultNotifier }) {
  const { em, clock, logger } = deps;

  // The week before the current one: recorded if the hall of fame has closed it, then told.
  async function deliver(opts: { signal?: AbortSignal } = {}): Promise<RankingResultRun> {
    const now = clock.now();
    const current = periodWindow('weekly', now);
    const week = periodWindow('weekly', new Date(current.startsAt.getTime() - 1));
    const dayAfterLast = periodWindow('daily', week.endsAt!).start;
    const recorded = (await inTransaction(em.fork(), (tx) =>
      tx.execute<{ user_id: string }[]>(RECORD_WEEK_SQL, [week.start, dayAfterLast, week.start, now, week.start, week.start]))).length;

    let notified = 0;
    let failed = 0;
    let after = '00000000-0000-0000-0000-000000000000';
    while (!opts.signal?.aborted) {
      const rows = await em.fork().execute<ResultRow[]>(
        `select r.user_id, r.distance_rank, r.distance_m, r.count_rank, r.walks, r.walkers
           from walk_ranking_results r join users u on u.id = r.user_id and u.disabled_at is null
          where r.period_start = ?::date and r.notified_at is null and r.user_id > ?
          order by r.user_id limit ?`, [week.start, after, CHUNK]);
      if (rows.length === 0) break;
      after = rows[rows.length - 1].user_id;
      const told: string[] = [];
      for (let i = 0; i < rows.length; i += NOTIFY_CONCURRENCY) {
        await Promise.all(rows.slice(i, i + NOTIFY_CONCURRENCY).map(async (r) => {
          try {
            await deps.notify(r.user_id, {
              type: 'walk.ranking_result',
              title: '지난주 랭킹 결과',
              body: `${(Number(r.distance_m) / 1000).toFixed(1)}km로 ${r.walkers}명 중 ${r.distance_rank}위, 산책 ${r.walks}회로 ${r.count_rank}위예요`,
              data: { periodStart: week.start, distanceRank: r.distance_rank, distanceM: Number(r.distance_m), countRank: r.count_rank, walks: r.walks, walkers: r.walkers },
              dedupeKey: `walk.ranking_result:${week.start}`,
            });
            told.push(r.user_id);
          } catch (err) {
            failed++;
            logger.warn({ err, userId: r.user_id }, 'walk ranking result not sent; the next run tries again');
          }
        }));
      }
      if (told.length > 0) {
        await em.fork().execute(`update walk_ranking_results set notified_at = ? where period_start = ?::date and user_id = any(?::uuid[]) and notified_at is null`,
          [now, week.start, pgArray(told)]);
      }
      notified += told.length;
    }
    if (recorded > 0 || notified > 0) logger.info({ week: week.start, recorded, notified, failed }, 'walk ranking results told');
    return { week: week.start, recorded, notified, failed };
  }

  return { deliver };
}

export type RankingResultService = ReturnType<typeof createRankingResultService>;
