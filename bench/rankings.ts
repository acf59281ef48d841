// Rankings at size (issue 11): one board with --items items holding random scores in each of its
// current periods (daily, weekly, monthly, all), inserted with generate_series. Then --reads reads
// of the top 100 plus a random item's rank, on Postgres and (with REDIS_URL) on Redis, p50/p99; the
// rebuild of the live sets; trending; and the day's snapshot (every period: 4 × --items rows).
// Goals: a read p50 < 5 ms, the snapshot < 5 s.
//
//   node_modules/.bin/node bench/rankings.ts [--items 100000] [--reads 500]
//   REDIS_URL=redis://127.0.0.1:6379 npm run bench:rankings
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import pino from 'pino';
import { loadConfig } from '../server/config.ts';
import { startApiNode } from '../server/node.ts';
import { createRankingService, periodWindow, type RankingBoard, type RankingPeriod } from '../services/rankings/rankings.ts';
import { systemClock } from '../services/time.ts';
import { benchApiEnv, percentile } from './support.ts';

const { values: args } = parseArgs({ options: { items: { type: 'string', default: '100000' }, reads: { type: 'string', default: '500' } } });
const ITEMS = Number(args.items);
const READS = Number(args.reads);
const PERIODS: RankingPeriod[] = ['daily', 'weekly', 'monthly', 'all'];

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
const node = await startApiNode(loadConfig(benchApiEnv({ DATABASE_POOL_MAX: '10' })));
const redis = process.env.REDIS_URL ? new Redis(process.env.REDIS_URL) : undefined;
const logger = pino({ level: 'warn' });
const runId = `${Date.now().toString(36)}${process.pid}`;
const board = `bench.r${runId}`;
const keyPrefix = `bench_${runId}:rankings`;
const em = node.ctx.db.orm.em;
let failed = false;
const goals: string[] = [];

async function time<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const started = performance.now();
  const out = await fn();
  return [out, performance.now() - started];
}

async function reads(b: RankingBoard, period: RankingPeriod, expect: 'redis' | 'postgres'): Promise<{ p50: number; p99: number }> {
  const latencies: number[] = [];
  for (let i = 0; i < READS; i++) {
    const itemId = `item${1 + Math.floor(Math.random() * ITEMS)}`;
    const started = performance.now();
    const answer = await b.leaderboard(period, { limit: 100, itemId });
    latencies.push(performance.now() - started);
    if (answer.source !== expect || answer.items.length !== 100 || !answer.mine) throw new Error(`unexpected answer from ${answer.source}: ${answer.items.length} items, mine ${JSON.stringify(answer.mine)}`);
  }
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99) };
}

try {
  const now = systemClock.now();
  const [, insertMs] = await time(async () => {
    for (const kind of PERIODS) {
      await em.fork().execute(
        `insert into ranking_scores (board, period_kind, period_start, item_id, score)
         select ?, ?, ?::date, 'item' || g, (random() * 1000000)::bigint from generate_series(1, ?) g`,
        [board, kind, periodWindow(kind, now).start, ITEMS],
      );
    }
    // Index-only counts for "my rank" need the visibility map that a vacuum writes (autovacuum would, later).
    await em.fork().execute('vacuum analyze ranking_scores');
  });
  console.log(`${ITEMS} items × 4 periods inserted on board ${board} in ${(insertMs / 1000).toFixed(1)} s`);

  const onPostgres = createRankingService({ em, keyPrefix, clock: systemClock, logger }).define({ board });
  for (const period of ['daily', 'all'] as const) {
    await reads(onPostgres, period, 'postgres'); // warm-up: plans, buffers, pool
    const r = await reads(onPostgres, period, 'postgres');
    console.log(`read top 100 + my rank, Postgres, ${period}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms over ${READS} reads`);
    goals.push(`Postgres ${period} read p50 < 5 ms: ${r.p50 < 5 ? 'MET' : 'NOT MET'}`);
  }

  if (redis) {
    const service = createRankingService({ em, redis, keyPrefix, clock: systemClock, logger });
    const onRedis = service.define({ board });
    const [copied, rebuildMs] = await time(() => onRedis.rebuild());
    console.log(`rebuild of the live sets from Postgres: ${Object.values(copied).reduce((a, b) => a + b, 0)} rows in ${(rebuildMs / 1000).toFixed(2)} s`);
    for (const period of ['daily', 'all'] as const) {
      await reads(onRedis, period, 'redis');
      const r = await reads(onRedis, period, 'redis');
      console.log(`read top 100 + my rank, Redis, ${period}: p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms over ${READS} reads`);
      goals.push(`Redis ${period} read p50 < 5 ms: ${r.p50 < 5 ? 'MET' : 'NOT MET'}`);
    }
    const adds: number[] = [];
    for (let i = 0; i < 200; i++) {
      const [, ms] = await time(() => onRedis.add(`item${1 + Math.floor(Math.random() * ITEMS)}`, 1));
      adds.push(ms);
    }
    adds.sort((a, b) => a - b);
    console.log(`add (Postgres upsert of 4 periods + Redis): p50 ${percentile(adds, 50).toFixed(2)} ms, p99 ${percentile(adds, 99).toFixed(2)} ms over 200`);
  }

  const [, trendingMs] = await time(() => onPostgres.trending({ limit: 100 }));
  console.log(`trending (today's ${ITEMS} rows joined with yesterday's): ${trendingMs.toFixed(0)} ms`);

  const day = periodWindow('daily', now).start;
  const [written, snapshotMs] = await time(() => onPostgres.snapshot(day));
  const [, againMs] = await time(() => onPostgres.snapshot(day));
  const rows = Object.values(written).reduce((a, b) => a + b, 0);
  console.log(`snapshot of ${day}: ${rows} rows (${JSON.stringify(written)}) in ${(snapshotMs / 1000).toFixed(2)} s; re-run (replacing) ${(againMs / 1000).toFixed(2)} s`);
  goals.push(`snapshot < 5 s: ${snapshotMs < 5000 ? 'MET' : 'NOT MET'} (re-run ${againMs < 5000 ? 'MET' : 'NOT MET'})`);
  failed = goals.some((g) => g.includes('NOT MET'));
  console.log(`goals: ${goals.join('; ')}`);
} finally {
  await em.fork().execute('delete from ranking_snapshots where board = ?', [board]);
  await em.fork().execute('delete from ranking_scores where board = ?', [board]);
  if (redis) {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${keyPrefix}:*`, 'COUNT', 1000);
      if (keys.length) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    redis.disconnect();
  }
  await node.shutdown('bench done');
}
process.exit(failed ? 1 : 0);
