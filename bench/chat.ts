// The points wallet under the chat's load (issue 10): a race for one wallet, then sustained spends
// on one hot wallet, against a real Postgres, through the wallet service itself
// (services/billing/points.ts, as the chat's replies and the point packs call it; no HTTP).
//
//   node_modules/.bin/node bench/chat.ts [--seconds 5] [--workers 1,16,64] [--rounds 2] [--pool 20] [--race 1000]
//   npm run bench:chat
//
// 1. --race concurrent 10-point spends on a wallet credited 10 × race / 2 points: how many
//    succeeded (exactly half must), the final balance (0), the ledger's sum (= the balance), elapsed.
// 2. Sustained spends on one hot wallet: for each --workers count, that many workers spend 1 point
//    at a time for --seconds; spends/s and p50/p99 latency. The goal is ≥ 1,000 spends/s. Next to
//    it, with the same workers and pool, two floors: the wallet's one statement (POINTS_MOVE) sent
//    with node-pg directly (no MikroORM), and a bare `update … set balance = balance - 1 where … and
//    balance >= 1` of one row in a table of its own (no ledger entry). Every spend of one wallet
//    serialises on its row lock, held until the commit is flushed, so the bare update is the ceiling
//    of any design that keeps a balance in one Postgres row. The three run back to back in a
//    rotating order, for --rounds rounds, so that drift on a shared machine hits them alike.
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { loadConfig } from '../server/config.ts';
import { startApiNode } from '../server/node.ts';
import { POINTS_MOVE } from '../services/billing/points.sql.ts';
import { benchApiEnv, percentile, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    workers: { type: 'string', default: '1,16,64' },
    rounds: { type: 'string', default: '2' },
    pool: { type: 'string', default: '20' },
    race: { type: 'string', default: '1000' },
  },
});
const SECONDS = Number(args.seconds);
const WORKERS = args.workers.split(',').map(Number);
const ROUNDS = Number(args.rounds);
const POOL = Number(args.pool);
const RACE = Number(args.race);
const GOAL = 1000;

setTimeout(() => {
  console.error('chat bench: gave up after 170 s');
  process.exit(1);
}, 170_000).unref();

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) before the run: ${loadavg()[0].toFixed(2)}`);
const node = await startApiNode(loadConfig(benchApiEnv({ DATABASE_POOL_MAX: String(POOL), MODULES: 'chat', LOG_LEVEL: 'error' })));
const runId = `${Date.now().toString(36)}${process.pid}`;
const points = node.services.points;
const em = () => node.ctx.db.orm.em.fork();
const raw = new pg.Pool({ connectionString: node.ctx.db.url, max: POOL });
// An idle connection the server closes at shutdown (the embedded Postgres stops with the node) is not a failure.
raw.on('error', () => undefined);
const hotTable = `bench_chat_hot_${runId}`;
let keySeq = 0;
const key = (what: string) => `bench:${runId}:${what}:${++keySeq}`;
const ledgerSum = async (userId: string) => Number((await em().execute<{ s: string }[]>('select coalesce(sum(amount), 0) as s from point_transactions where user_id = ?', [userId]))[0].s);

type Measured = { perSecond: number; p50: number; p99: number; errors: number };

// `workers` loops calling `spend` for SECONDS, after one warm-up call each (connections opened, statements planned).
async function sustained(workers: number, spend: () => Promise<unknown>): Promise<Measured> {
  await Promise.all(Array.from({ length: workers }, () => spend()));
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const until = began + SECONDS * 1000;
  await Promise.all(Array.from({ length: workers }, async () => {
    while (performance.now() < until) {
      const s = performance.now();
      try {
        await spend();
        latencies.push(performance.now() - s);
      } catch {
        errors++;
      }
    }
  }));
  const elapsed = (performance.now() - began) / 1000;
  latencies.sort((a, b) => a - b);
  return { perSecond: latencies.length / elapsed, p50: percentile(latencies, 50), p99: percentile(latencies, 99), errors };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

let exitCode = 0;
try {
  const [settings] = await em().execute<{ version: string; sync: string; fsync: string }[]>(
    `select current_setting('server_version') as version, current_setting('synchronous_commit') as sync, current_setting('fsync') as fsync`,
  );
  console.log(`Postgres ${settings.version} (${process.env.DATABASE_URL ? 'DATABASE_URL' : 'embedded'}), synchronous_commit=${settings.sync}, fsync=${settings.fsync}; pool ${POOL} connections (MikroORM) + ${POOL} (node-pg, floors)`);

  // 1. The race.
  const racer = await registerBenchUser(node.url, `chatbench_${runId}_race`);
  const start = (RACE * 10) / 2;
  await points.credit(racer.id, { amount: start, idempotencyKey: key('race-credit') });
  const t = performance.now();
  const outcomes = await Promise.allSettled(Array.from({ length: RACE }, () => points.spend(racer.id, { amount: 10, idempotencyKey: key('race'), description: 'bench race' })));
  const raceMs = performance.now() - t;
  const ok = outcomes.filter((o) => o.status === 'fulfilled').length;
  const codes = new Map<string, number>();
  for (const o of outcomes) {
    if (o.status !== 'rejected') continue;
    const code = (o.reason as { code?: string }).code ?? String(o.reason);
    codes.set(code, (codes.get(code) ?? 0) + 1);
  }
  const after = await points.balance(racer.id);
  const sum = await ledgerSum(racer.id);
  const raceOk = ok === RACE / 2 && after.balance === 0 && sum === after.balance;
  console.log(`\n1. ${RACE} concurrent 10-point spends on a ${start}-point wallet`);
  console.log(`   succeeded ${ok}, refused ${RACE - ok} (${[...codes].map(([c, n]) => `${c} ×${n}`).join(', ')}); balance ${after.balance}; ledger sum ${sum}; ${raceMs.toFixed(0)} ms (${((RACE / raceMs) * 1000).toFixed(0)} calls/s) → ${raceOk ? 'MET' : 'NOT MET'}`);

  // 2. One hot wallet, sustained, with its floors.
  const hot = await registerBenchUser(node.url, `chatbench_${runId}_hot`);
  await points.credit(hot.id, { amount: 1_000_000_000, idempotencyKey: key('hot-credit') });
  await raw.query(`create table ${hotTable} (id int primary key, balance bigint not null check (balance >= 0))`);
  await raw.query(`insert into ${hotTable} values (1, 1000000000)`);
  let n = 0;
  // The wallet's own statement, with node-pg's $n placeholders, and what `move` passes for a 1-point spend.
  const moveSql = POINTS_MOVE.replace(/\?/g, () => `$${++n}`);
  const targets: { label: string; spend: () => Promise<unknown> }[] = [
    { label: 'points.spend (the wallet service)', spend: () => points.spend(hot.id, { amount: 1, idempotencyKey: key('hot'), description: 'bench' }) },
    { label: 'POINTS_MOVE via node-pg', spend: () => raw.query(moveSql, [-1, 0, 1, hot.id, -1, hot.id, 'spend', -1, 'bench', null, null, key('hot-raw')]) },
    { label: 'bare guarded UPDATE of one row', spend: () => raw.query(`update ${hotTable} set balance = balance - 1 where id = 1 and balance >= 1`) },
  ];
  const results = new Map<string, Measured[]>();
  console.log(`\n2. sustained 1-point spends on one wallet: ${SECONDS} s per row, ${ROUNDS} rounds, the order rotating`);
  for (let round = 0; round < ROUNDS; round++) {
    for (const workers of WORKERS) {
      for (let i = 0; i < targets.length; i++) {
        const target = targets[(i + round) % targets.length];
        const m = await sustained(workers, target.spend);
        const id = `${target.label}|${workers}`;
        results.set(id, [...(results.get(id) ?? []), m]);
        console.log(`   round ${round + 1}  ${target.label.padEnd(34)} ${String(workers).padStart(3)} workers: ${m.perSecond.toFixed(0).padStart(6)} /s  p50 ${m.p50.toFixed(2)} ms  p99 ${m.p99.toFixed(2)} ms${m.errors ? `  ${m.errors} errors` : ''}`);
      }
    }
  }

  console.log(`\n   median over ${ROUNDS} rounds (range)`);
  console.log(`   ${'target'.padEnd(34)} workers  spends/s              p50 ms   p99 ms`);
  let best = 0;
  let floor = 0;
  for (const target of targets) {
    for (const workers of WORKERS) {
      const ms = results.get(`${target.label}|${workers}`)!;
      const rate = median(ms.map((m) => m.perSecond));
      if (target === targets[0]) best = Math.max(best, rate);
      if (target === targets[2]) floor = Math.max(floor, rate);
      const range = `${Math.min(...ms.map((m) => m.perSecond)).toFixed(0)}–${Math.max(...ms.map((m) => m.perSecond)).toFixed(0)}`;
      console.log(`   ${target.label.padEnd(34)} ${String(workers).padStart(7)}  ${rate.toFixed(0).padStart(6)} (${range.padEnd(11)})  ${median(ms.map((m) => m.p50)).toFixed(2).padStart(7)}  ${median(ms.map((m) => m.p99)).toFixed(2).padStart(7)}`);
    }
  }

  const hotWallet = await points.balance(hot.id);
  const hotSum = await ledgerSum(hot.id);
  const consistent = hotSum === hotWallet.balance;
  console.log(`\nhot wallet afterwards: balance ${hotWallet.balance}, ledger sum ${hotSum} → ${consistent ? 'consistent' : 'INCONSISTENT'}`);
  console.log(`goal: ${RACE / 2} of ${RACE} succeed, balance 0, ledger = balance → ${raceOk ? 'MET' : 'NOT MET'}`);
  console.log(`goal: ≥ ${GOAL} spends/s on one hot wallet → best median ${best.toFixed(0)}/s: ${best >= GOAL ? 'MET' : 'NOT MET'} (floor: the bare one-row UPDATE, best median ${floor.toFixed(0)}/s)`);
  exitCode = raceOk && consistent ? 0 : 1;
} finally {
  await raw.query(`drop table if exists ${hotTable}`).catch(() => undefined);
  await raw.end();
  await node.shutdown('bench done');
}
process.exitCode = exitCode;
