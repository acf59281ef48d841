// Issue 14's feed target: "Feed read p50 < 20 ms for a user following 500 users with 100k walks in the
// table." (The meetup targets are measured by bench/walk-meetups.ts.)
//
// A scratch database (DATABASE_URL given) or the bench embedded Postgres gets --users walkers and
// --walks trusted walks over 90 days with random likes and comments (so the feed order is not plain
// recency); --viewers walkers follow --follows others each. Then the first page of the feed, and a
// page deep in it (by cursor), are read through the service (the SQL path) and over HTTP.
//
//   node bench/walk-social.ts [--walks 100000] [--users 5000] [--follows 500] [--viewers 20] [--reads 200]
import { createHash } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { loadConfig } from '../server/config.ts';
import { createDatabaseIfMissing, dropDatabase } from '../server/db.ts';
import { startApiNode } from '../server/node.ts';
import { moduleServices } from '../server/context.ts';
import { modules } from '../modules/index.ts';
import { walkModule } from '../modules/walk/index.ts';
import { benchApiEnv, percentile, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    walks: { type: 'string', default: '100000' },
    users: { type: 'string', default: '5000' },
    follows: { type: 'string', default: '500' },
    viewers: { type: 'string', default: '20' },
    reads: { type: 'string', default: '200' },
  },
});
const [WALKS, USERS, FOLLOWS, VIEWERS, READS] = [args.walks, args.users, args.follows, args.viewers, args.reads].map(Number);
const GOAL_MS = 20;

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
const runId = `${Date.now().toString(36)}${process.pid}`;
let scratchUrl: string | undefined;
if (process.env.DATABASE_URL) {
  const url = new URL(process.env.DATABASE_URL);
  url.pathname = `/bench_walk_social_${runId}`;
  scratchUrl = url.toString();
  await createDatabaseIfMissing(scratchUrl);
}
const node = await startApiNode(loadConfig(benchApiEnv({ MODULES: 'walk', DATABASE_POOL_MAX: '10', MIGRATE_ON_START: 'true', ...(scratchUrl ? { DATABASE_URL: scratchUrl } : {}) }), modules), { modules });
const { social } = moduleServices(node.services, walkModule);
const sql = (text: string, params: unknown[] = []) => node.ctx.db.orm.em.fork().execute(text, params);
const userId = (n: number) => createHash('md5').update(`${runId}${n}`).digest('hex').replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
const log = pino({ level: 'warn' });
let failed = false;

async function timed(label: string, fn: (i: number) => Promise<unknown>): Promise<number> {
  const ms: number[] = [];
  for (let i = 0; i < READS + 20; i++) {
    const started = performance.now();
    await fn(i);
    if (i >= 20) ms.push(performance.now() - started); // the first 20 warm plans and buffers
  }
  ms.sort((a, b) => a - b);
  const p50 = percentile(ms, 50);
  console.log(`${label}: p50 ${p50.toFixed(2)} ms, p99 ${percentile(ms, 99).toFixed(2)} ms over ${READS}`);
  return p50;
}

try {
  const started = performance.now();
  await sql(`insert into users (id, username) select md5(? || g)::uuid, 'bws_' || ? || '_' || g from generate_series(1, ?) g`, [runId, runId, USERS]);
  await sql(`insert into walk_profiles (user_id, nickname, region) select md5(? || g)::uuid, 'walker ' || g, 'region-' || (g % 25) from generate_series(1, ?) g`, [runId, USERS]);
  await sql(
    `insert into walks (id, user_id, client_walk_id, started_at, ended_at, local_date, local_hour, distance_m, duration_s, moving_time_s, calories,
                        point_count, route, min_lat, max_lat, min_lng, max_lng, start_lat, start_lng, region, trust_score, trusted, analysis,
                        like_count, comment_count)
     select id, user_id, 'b' || g, s, s + interval '40 minutes', (s at time zone 'Asia/Seoul')::date, 8, d, 2400, 2300, 100, 100, '[]', 37.5, 37.6, 127, 127.1, 37.5, 127,
            null, 100, g % 20 <> 0, '{}', l, c
       from (select gen_random_uuid() as id, md5(? || (g % ? + 1))::uuid as user_id, g, now() - (random() * interval '90 days') as s,
                    500 + (random() * 6000)::int as d, (random() ^ 4 * 30)::int as l, (random() ^ 6 * 10)::int as c
               from generate_series(1, ?) g) w`,
    [runId, USERS, WALKS]);
  // Viewers 1..VIEWERS follow FOLLOWS walkers each (spread over everyone).
  await sql(
    `insert into walk_follows (follower_id, followee_id) select md5(? || v)::uuid, md5(? || ((v * 7919 + k * 13) % ? + 1))::uuid
       from generate_series(1, ?) v, generate_series(1, ?) k where (v * 7919 + k * 13) % ? + 1 <> v on conflict do nothing`,
    [runId, runId, USERS, VIEWERS, FOLLOWS, USERS]);
  for (const t of ['walks', 'walk_follows', 'walk_profiles', 'users']) await sql(`vacuum analyze ${t}`);
  console.log(`${WALKS} walks (95% trusted) by ${USERS} walkers, ${VIEWERS} viewers following ${FOLLOWS} each: set up in ${((performance.now() - started) / 1000).toFixed(1)} s`);

  const viewer = (i: number) => userId(1 + (i % VIEWERS));
  const p50 = await timed('feed, first page of 20 (service)', (i) => social.feed(viewer(i), { limit: 20 }));
  // Ten pages in: the cursor path.
  const deep = new Map<string, string>();
  for (let v = 1; v <= VIEWERS; v++) {
    let cursor: string | undefined;
    for (let p = 0; p < 10; p++) cursor = (await social.feed(userId(v), { limit: 20, cursor })).nextCursor ?? undefined;
    if (cursor) deep.set(userId(v), cursor);
  }
  await timed('feed, the 11th page by cursor (service)', (i) => social.feed(viewer(i), { limit: 20, cursor: deep.get(viewer(i)) }));
  // Over HTTP: a real account following the same walkers as viewer 1.
  const http = await registerBenchUser(node.url, `bws_${runId}_http`);
  await sql(`insert into walk_follows (follower_id, followee_id) select ?, followee_id from walk_follows where follower_id = ?`, [http.id, userId(1)]);
  await sql('vacuum analyze walk_follows');
  await timed('feed, first page of 20, the HTTP account (service)', () => social.feed(http.id, { limit: 20 }));
  const httpP50 = await timed('GET /walk/feed over HTTP', async () => {
    const res = await fetch(`${node.url}/walk/feed?limit=20`, { headers: { authorization: `Bearer ${http.accessToken}` } });
    if (res.status !== 200) throw new Error(`feed answered ${res.status}`);
    await res.arrayBuffer();
  });
  // A walker following one walker whose walks are all old: the case a scan of the global order loses.
  await sql(`insert into walk_follows (follower_id, followee_id) values (?, ?)`, [userId(USERS), userId(USERS - 1)]);
  await timed('feed of a walker following 1 walker (service)', () => social.feed(userId(USERS), { limit: 20 }));
  console.log(`goal: feed read p50 < ${GOAL_MS} ms: ${Math.max(p50, httpP50) < GOAL_MS ? 'MET' : 'NOT MET'} (service ${p50.toFixed(2)} ms, HTTP ${httpP50.toFixed(2)} ms)`);
  failed = Math.max(p50, httpP50) >= GOAL_MS;
} catch (err) {
  log.error({ err }, 'bench failed');
  failed = true;
} finally {
  await node.shutdown('bench done');
  if (scratchUrl) await dropDatabase(scratchUrl);
}
if (failed) process.exit(1);
