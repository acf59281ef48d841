// How much of a bare Koa app's throughput does the real stack keep? Every server runs in a process
// of its own (bench/httpTarget.ts), as the API does in production, and the load generator
// (autocannon) in this one. One run measures a bare node:http server, a bare Koa 3 app, both sending
// the API's response headers, the least a Koa app can do to answer /auth/me (minimalAuthMe), and the
// real API node's GET /health and authenticated GET /auth/me (token, account and session checks, from
// their caches after the first request). It also times jsonwebtoken's verify with a string secret
// against a prepared KeyObject, the choice made in services/identity/tokens.ts.
//
// The servers and autocannon share the machine's cores, so absolute numbers are low on a small box
// and the ratios are what to read. Throughput on a shared VM drifts by tens of percent within a
// minute, so the targets are measured in interleaved rounds and each ratio is taken against the
// baseline of the same round.
//
//   node bench/http.ts [--rounds 3] [--duration 5] [--connections 50] [--log warn|info]
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import type { TargetKind, TargetReady } from './httpTarget.ts';
import { percentile } from './support.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    duration: { type: 'string', default: '5' },
    connections: { type: 'string', default: '50' },
    log: { type: 'string', default: 'warn' },
  },
});
const ROUNDS = Number(args.rounds);
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const WARMUP_SECONDS = 2;
// The goal is set against the framework the design fixes: authenticated /auth/me ≥ 0.6× bare Koa.
const GOAL_RATIO = 0.6;
if (args.log !== 'warn' && args.log !== 'info') throw new Error('--log must be warn or info');

const print = (line = '') => process.stdout.write(`${line}\n`);

type Target = { name: string; url: string; headers?: Record<string, string>; server: Server };
type Run = { rps: number; p50: number; p99: number; non2xx: number; errors: number; cpuUsPerRequest: number };
type Server = { ready: TargetReady; cpuUs: () => Promise<number>; stop: () => Promise<void> };

print(`Node ${process.version}, ${availableParallelism()} CPUs; ${CONNECTIONS} connections; ${ROUNDS} interleaved rounds of ${DURATION} s per target, after a ${WARMUP_SECONDS} s warm-up each.`);
print(`Each server runs in a process of its own; autocannon runs in this one. They share the same ${availableParallelism()} cores.`);
print(`Load average (1 min) before the run: ${loadavg()[0].toFixed(2)} (well above 0 means other work is sharing the cores and the numbers will wander).`);
print(args.log === 'info' ? 'API node LOG_LEVEL=info: access logs ON (one line per request, to the API process\'s stdout, discarded).' : 'API node LOG_LEVEL=warn: access logs OFF (use --log info to include them).');
print();

printJwtCost();

const servers: Server[] = [];
try {
  const api = await startTarget('api');
  // The headers every API response carries (security headers, request id, Vary), to price them alone.
  const apiHeaders = api.ready.apiHeaders!;
  const bare = await startTarget('node');
  const koa = await startTarget('koa');
  const nodeHeaders = await startTarget('node-headers', apiHeaders);
  const koaHeaders = await startTarget('koa-headers', apiHeaders);
  const minimal = await startTarget('minimal', apiHeaders);

  const targets: Target[] = [
    { name: 'bare node:http', url: `${bare.ready.url}/`, server: bare },
    { name: 'bare Koa 3', url: `${koa.ready.url}/`, server: koa },
    { name: `node:http + API headers (${Object.keys(apiHeaders).length})`, url: `${nodeHeaders.ready.url}/`, server: nodeHeaders },
    { name: 'Koa 3 + API headers', url: `${koaHeaders.ready.url}/`, server: koaHeaders },
    { name: 'Koa 3, /auth/me in one function', url: `${minimal.ready.url}/auth/me`, headers: { Authorization: `Bearer ${minimal.ready.token}` }, server: minimal },
    { name: 'API GET /health', url: `${api.ready.url}/health`, server: api },
    { name: 'API GET /auth/me (auth)', url: `${api.ready.url}/auth/me`, headers: { Authorization: `Bearer ${api.ready.token}` }, server: api },
  ];
  const [nodeBaseline, koaBaseline, , , , , me] = targets;
  const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
  const ratios = new Map<Target, number[]>(targets.map((t) => [t, []]));
  const koaRatios = new Map<Target, number[]>(targets.map((t) => [t, []]));
  for (const target of targets) await probeTarget(target);
  for (let round = 0; round < ROUNDS; round++) {
    // Rotating the order keeps one target from always running first, or last, in a round.
    const order = targets.map((_, i) => targets[(i + round) % targets.length]);
    const roundRuns = new Map<Target, Run>();
    for (const target of order) {
      const run = await measure(target);
      roundRuns.set(target, run);
      runs.get(target)!.push(run);
    }
    for (const target of targets) {
      ratios.get(target)!.push(roundRuns.get(target)!.rps / roundRuns.get(nodeBaseline)!.rps);
      koaRatios.get(target)!.push(roundRuns.get(target)!.rps / roundRuns.get(koaBaseline)!.rps);
    }
    print(`round ${round + 1}/${ROUNDS}: ${targets.map((t) => `${t.name} ${Math.round(roundRuns.get(t)!.rps)}`).join(' · ')}`);
  }
  print();
  printTable(targets, runs, ratios, koaRatios);
  const meVsKoa = median(koaRatios.get(me)!);
  const meVsNode = median(ratios.get(me)!);
  const clean = [...runs.values()].flat().every((r) => r.non2xx === 0 && r.errors === 0);
  print();
  print(`Goal: authenticated GET /auth/me ≥ ${GOAL_RATIO}× bare Koa → ${meVsKoa.toFixed(2)}× (median of ${ROUNDS} rounds; range ${Math.min(...koaRatios.get(me)!).toFixed(2)}–${Math.max(...koaRatios.get(me)!).toFixed(2)}) — ${meVsKoa >= GOAL_RATIO ? 'MET' : 'NOT MET'}${clean ? '' : ' (some responses were not 2xx or failed: see the table)'}`);
  print(`      against bare node:http: ${meVsNode.toFixed(2)}×`);
} finally {
  await Promise.all(servers.map((s) => s.stop()));
}

// Forks bench/httpTarget.ts and waits for it to listen.
async function startTarget(kind: TargetKind, headers?: Record<string, string>): Promise<Server> {
  const child: ChildProcess = fork(new URL('./httpTarget.ts', import.meta.url), [kind], {
    env: { ...process.env, BENCH_HEADERS: JSON.stringify(headers ?? {}), BENCH_LOG: args.log },
    // The API's access log (at --log info) is written, as in production, but not to this terminal.
    stdio: ['ignore', args.log === 'info' ? 'ignore' : 'inherit', 'inherit', 'ipc'],
  });
  const replies: ((msg: { type: string; us?: number }) => void)[] = [];
  const ready = await new Promise<TargetReady>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`bench target ${kind} exited (${code}) before listening`)));
    child.on('message', (msg: { type: string } & TargetReady & { us?: number }) => {
      if (msg.type === 'ready') resolve(msg);
      else replies.shift()?.(msg);
    });
  });
  const server: Server = {
    ready,
    cpuUs: () => new Promise((resolve) => {
      replies.push((msg) => resolve(msg.us!));
      child.send({ type: 'cpu' });
    }),
    stop: () => new Promise((resolve) => {
      if (child.exitCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.send({ type: 'stop' });
    }),
  };
  servers.push(server);
  return server;
}

// A first request fails fast on a wrong URL or token instead of after a whole run of 4xx.
async function probeTarget(target: Target): Promise<void> {
  const res = await fetch(target.url, { headers: target.headers });
  if (!res.ok) throw new Error(`${target.name}: ${target.url} answered ${res.status}: ${await res.text()}`);
  await res.arrayBuffer();
}

async function measure(target: Target): Promise<Run> {
  // Warm-up lets V8 optimise the hot paths and fills connection pools before anything counts.
  await cannon(target, WARMUP_SECONDS);
  // The server's own process CPU time per request: what a request costs it, a steadier figure than
  // req/s on a shared VM.
  const cpuBefore = await target.server.cpuUs();
  const r = await cannon(target, DURATION);
  const cpuUsPerRequest = ((await target.server.cpuUs()) - cpuBefore) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, cpuUsPerRequest };
}

function cannon(target: Target, duration: number): Promise<autocannon.Result> {
  return autocannon({ url: target.url, headers: target.headers ?? {}, connections: CONNECTIONS, duration });
}

function median(values: number[]): number {
  return percentile([...values].sort((a, b) => a - b), 50);
}

function printJwtCost(): void {
  const secret = 'bench-jwt-secret-0123456789abcdef-0123456789';
  const key = crypto.createSecretKey(Buffer.from(secret, 'utf8'));
  const options: jwt.VerifyOptions = { algorithms: ['HS256'], issuer: 'realtime-platform', audience: 'realtime-platform-clients' };
  // The same claims and options as services/identity/tokens.ts, so the verify does the same work.
  const token = jwt.sign({ sid: crypto.randomUUID(), role: 'user', typ: 'access' }, key, {
    algorithm: 'HS256', subject: crypto.randomUUID(), issuer: options.issuer as string, audience: options.audience as string, expiresIn: 1800,
  });
  const timeVerify = (secretOrKey: string | crypto.KeyObject, iterations: number) => {
    const started = performance.now();
    for (let i = 0; i < iterations; i++) jwt.verify(token, secretOrKey, options);
    return ((performance.now() - started) * 1000) / iterations;
  };
  timeVerify(secret, 5000);
  timeVerify(key, 5000);
  const iterations = 50_000;
  const withString = timeVerify(secret, iterations);
  const withKey = timeVerify(key, iterations);
  print(`JWT verify (jsonwebtoken, HS256, ${iterations} iterations each after warm-up):`);
  print(`  string secret  ${withString.toFixed(1).padStart(6)} µs/verify  (a new KeyObject is derived on every call)`);
  print(`  KeyObject      ${withKey.toFixed(1).padStart(6)} µs/verify  (the project's choice: ${(withString / withKey).toFixed(1)}× faster)`);
  print();
}

function printTable(targets: Target[], runs: Map<Target, Run[]>, ratios: Map<Target, number[]>, koaRatios: Map<Target, number[]>): void {
  const header = ['target', 'req/s (median)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', '× node:http', '× Koa', 'range × Koa', 'CPU µs/req'];
  const body = targets.map((t) => {
    const r = runs.get(t)!;
    const q = koaRatios.get(t)!;
    return [
      t.name,
      median(r.map((x) => x.rps)).toFixed(0),
      String(median(r.map((x) => x.p50))),
      String(median(r.map((x) => x.p99))),
      String(r.reduce((n, x) => n + x.non2xx, 0)),
      String(r.reduce((n, x) => n + x.errors, 0)),
      median(ratios.get(t)!).toFixed(2),
      median(q).toFixed(2),
      `${Math.min(...q).toFixed(2)}–${Math.max(...q).toFixed(2)}`,
      median(r.map((x) => x.cpuUsPerRequest)).toFixed(1),
    ];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  print(line(header));
  print(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) print(line(row));
  print('(Each ratio is the median over rounds of req/s against the baseline of the same round; range is the lowest and highest round.');
  print(' autocannon records latency in whole milliseconds. CPU µs/req is the server process\'s CPU time per request, median of the rounds.)');
}
