// How much of bare Node's HTTP throughput does the real stack keep? One run measures a bare
// node:http server, a bare Koa 3 app, Koa sending the API's response headers, node:http sending
// them, the least a Koa app can do to answer /auth/me (minimalAuthMe), and the real API node's GET /health and authenticated GET /auth/me (token and account
// checks, from their caches after the first request). It also times jsonwebtoken's verify with a
// string secret against a prepared KeyObject, the choice made in services/identity/tokens.ts.
//
// autocannon runs in a worker thread so it does not share the servers' event loop; it still shares
// the machine's cores, so absolute numbers are low on a small box and the ratios are what to read.
// Throughput on a shared VM drifts by tens of percent within a minute, so the targets are measured
// in interleaved rounds and each ratio is taken against bare node:http of the same round.
//
//   node bench/http.ts [--rounds 3] [--duration 5] [--connections 50] [--log warn|info]
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import jwt from 'jsonwebtoken';
import Koa from 'koa';
import { loadConfig } from '../server/config.ts';
import { startApiNode } from '../server/node.ts';
import { Histogram } from 'prom-client';
import { bearerToken } from '../server/http/auth.ts';
import { createLimiter } from '../server/rateLimits.ts';
import { createTokenService } from '../services/identity/tokens.ts';
import { benchApiEnv, percentile, registerBenchUser } from './support.ts';

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
const GOAL_RATIO = 0.6;
if (args.log !== 'warn' && args.log !== 'info') throw new Error('--log must be warn or info');

// At info the node writes one access-log line per request to stdout; the report goes to stderr then,
// so `> /dev/null` (or a file) keeps the log's cost in the measurement without a terminal's.
const out = args.log === 'info' ? process.stderr : process.stdout;
const print = (line = '') => out.write(`${line}\n`);

type Target = { name: string; url: string; headers?: Record<string, string> };
type Run = { rps: number; p50: number; p99: number; non2xx: number; errors: number; cpuUsPerRequest: number };

print(`Node ${process.version}, ${availableParallelism()} CPUs; ${CONNECTIONS} connections; ${ROUNDS} interleaved rounds of ${DURATION} s per target, after a ${WARMUP_SECONDS} s warm-up each.`);
print(`autocannon runs in a worker thread of this process: load generator and servers compete for the same ${availableParallelism()} cores.`);
print(`Load average (1 min) before the run: ${loadavg()[0].toFixed(2)} (well above 0 means other work is sharing the cores and the numbers will wander).`);
print(args.log === 'info' ? 'API node LOG_LEVEL=info: access logs ON (one line per request, to stdout).' : 'API node LOG_LEVEL=warn: access logs OFF (use --log info to include them).');
print();

printJwtCost();

const json = JSON.stringify({ status: 'ok' });
const servers: http.Server[] = [];
const node = await startApiNode(loadConfig(apiEnv()));
try {
  const { accessToken } = await registerBenchUser(node.url, `bench_${Date.now().toString(36)}${process.pid}`);
  // The headers every API response carries (security headers, request id, Vary), to price them alone below.
  const probe = await fetch(`${node.url}/health`);
  await probe.text();
  const apiHeaders = Object.fromEntries([...probe.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'content-length', 'content-type'].includes(k)));
  const { 'x-request-id': _id, ...constantHeaders } = apiHeaders;

  const bare = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
    res.end(json);
  });
  const koa = new Koa();
  koa.use((ctx) => {
    ctx.body = { status: 'ok' };
  });
  // What any Koa stack sending the API's headers pays before doing any work of its own: a fresh
  // request id and the constant security headers, set the way the API sets them.
  const koaWithHeaders = new Koa();
  koaWithHeaders.use((ctx) => {
    ctx.set('X-Request-Id', crypto.randomUUID());
    ctx.set(constantHeaders);
    ctx.body = { status: 'ok' };
  });
  // What those headers cost node:http by themselves.
  const withHeaders = await serve((_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), ...apiHeaders, 'x-request-id': crypto.randomUUID() });
    res.end(json);
  });

  const minimal = minimalAuthMe(constantHeaders);

  const targets: Target[] = [
    { name: 'bare node:http', url: `${bare}/` },
    { name: 'bare Koa 3', url: `${await serve(koa.callback())}/` },
    { name: `node:http + API headers (${Object.keys(apiHeaders).length})`, url: `${withHeaders}/` },
    { name: 'Koa 3 + API headers', url: `${await serve(koaWithHeaders.callback())}/` },
    { name: 'Koa 3, /auth/me in one function', url: `${await serve(minimal.app.callback())}/auth/me`, headers: { Authorization: `Bearer ${minimal.token}` } },
    { name: 'API GET /health', url: `${node.url}/health` },
    { name: 'API GET /auth/me (auth)', url: `${node.url}/auth/me`, headers: { Authorization: `Bearer ${accessToken}` } },
  ];
  const [baseline, , withHeadersTarget, , , , me] = targets;
  const runs = new Map<Target, Run[]>(targets.map((t) => [t, []]));
  const ratios = new Map<Target, number[]>(targets.map((t) => [t, []]));
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
    for (const target of targets) ratios.get(target)!.push(roundRuns.get(target)!.rps / roundRuns.get(baseline)!.rps);
    print(`round ${round + 1}/${ROUNDS}: ${targets.map((t) => `${t.name} ${Math.round(roundRuns.get(t)!.rps)}`).join(' · ')}`);
  }
  print();
  printTable(targets, runs, ratios);
  const meRatio = median(ratios.get(me)!);
  const meVsHeaders = median(runs.get(me)!.map((r, i) => r.rps / runs.get(withHeadersTarget)![i].rps));
  const clean = [...runs.values()].flat().every((r) => r.non2xx === 0 && r.errors === 0);
  print();
  print(`Goal: authenticated GET /auth/me ≥ ${GOAL_RATIO}× bare node:http → ${meRatio.toFixed(2)}× (median of ${ROUNDS} rounds) — ${meRatio >= GOAL_RATIO ? 'MET' : 'NOT MET'}${clean ? '' : ' (some responses were not 2xx or failed: see the table)'}`);
  print(`     against node:http sending the same headers: ${meVsHeaders.toFixed(2)}×`);
} finally {
  await node.shutdown('bench done');
  await Promise.all(servers.map(close));
}

function apiEnv(): Record<string, string> {
  return benchApiEnv({ LOG_LEVEL: args.log! });
}


// The least a Koa app can do and still answer /auth/me with what the issue asks of every request:
// a request id, the security headers, Vary, a latency histogram and an error guard in one
// middleware, a static route lookup instead of a router, the per-IP and per-user limits, the real
// token service (cached verify) and the account from a Map. No CORS, no problem+json, no cache
// refill from Postgres: a bound on what any implementation of the real route can reach here.
function minimalAuthMe(constantHeaders: Record<string, string>) {
  const tokens = createTokenService({ secret: crypto.randomBytes(32).toString('hex'), issuer: 'bench', audience: 'bench', accessTokenTtlSeconds: 1800, refreshTokenTtlSeconds: 86_400 });
  const user = { id: crypto.randomUUID(), email: 'minimal@example.com', username: 'minimal', displayName: null, role: 'user' as const, createdAt: '2026-11-22T09:00:00+09:00' };
  const accounts = new Map<string, typeof user>([[user.id, user]]);
  const token = tokens.signAccess({ userId: user.id, role: 'user', sessionId: crypto.randomUUID() });
  const ipLimit = createLimiter({ name: 'bench-ip', points: 100_000_000, durationSeconds: 60 });
  const userLimit = createLimiter({ name: 'bench-user', points: 100_000_000, durationSeconds: 60 });
  const latency = new Histogram({ name: 'bench_http_seconds', help: 'bench', labelNames: ['method', 'route', 'status'], registers: [] });
  const routes = new Map<string, (ctx: Koa.Context) => Promise<void>>([
    ['GET /auth/me', async (ctx) => {
      if ((await ipLimit.consume(ctx.ip)) !== null) return void (ctx.status = 429);
      const claims = tokens.verifyAccess(bearerToken(ctx.get('authorization')) ?? '');
      if ((await userLimit.consume(claims.userId)) !== null) return void (ctx.status = 429);
      ctx.body = accounts.get(claims.userId);
    }],
  ]);
  const app = new Koa();
  app.use(async (ctx) => {
    const started = performance.now();
    ctx.set('X-Request-Id', crypto.randomUUID());
    ctx.set(constantHeaders);
    try {
      const route = routes.get(`${ctx.method} ${ctx.path}`);
      if (route) await route(ctx);
    } catch {
      ctx.status = 401;
    }
    latency.observe({ method: ctx.method, route: ctx.path, status: String(ctx.status) }, (performance.now() - started) / 1000);
  });
  return { app, token };
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
  // Every server runs on this (main) thread and autocannon on its own, so the main thread's CPU
  // time per request is what a request costs the server: steadier than req/s on a shared VM.
  const cpuBefore = process.threadCpuUsage();
  const r = await cannon(target, DURATION);
  const cpu = process.threadCpuUsage(cpuBefore);
  const cpuUsPerRequest = (cpu.user + cpu.system) / Math.max(1, r.requests.total);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts, cpuUsPerRequest };
}

function cannon(target: Target, duration: number): Promise<autocannon.Result> {
  return autocannon({ url: target.url, headers: target.headers ?? {}, connections: CONNECTIONS, duration, workers: 1 });
}

async function serve(handler: http.RequestListener): Promise<string> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
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

function printTable(targets: Target[], runs: Map<Target, Run[]>, ratios: Map<Target, number[]>): void {
  const header = ['target', 'req/s (median)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', '× node:http (median)', 'range', 'CPU µs/req'];
  const body = targets.map((t) => {
    const r = runs.get(t)!;
    const q = ratios.get(t)!;
    return [
      t.name,
      median(r.map((x) => x.rps)).toFixed(0),
      String(median(r.map((x) => x.p50))),
      String(median(r.map((x) => x.p99))),
      String(r.reduce((n, x) => n + x.non2xx, 0)),
      String(r.reduce((n, x) => n + x.errors, 0)),
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
  print('(Each ratio is against bare node:http of the same round; range is the lowest and highest round. autocannon records latency in whole milliseconds.');
  print(' CPU µs/req is the servers\' thread\'s CPU time per request, median of the rounds; bare node:http is held back by the load generator, so it is not its capacity.)');
}
