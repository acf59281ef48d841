// How much of bare Node's HTTP throughput does the real stack keep? One run measures, one after
// another, a bare node:http server, a bare Koa 3 app, and the real API node's GET /health and
// authenticated GET /auth/me (token and account checks, from their caches after the first request). It also times
// jsonwebtoken's verify with a string secret against a prepared KeyObject, the choice made in
// services/identity/tokens.ts.
//
// autocannon runs in a worker thread so it does not share the servers' event loop; it still shares
// the machine's cores, so absolute numbers are low on a small box and the ratios are what to read.
//
//   node bench/http.ts [--duration 10] [--connections 50] [--log warn|info]
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
import { benchApiEnv, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    duration: { type: 'string', default: '10' },
    connections: { type: 'string', default: '50' },
    log: { type: 'string', default: 'warn' },
  },
});
const DURATION = Number(args.duration);
const CONNECTIONS = Number(args.connections);
const WARMUP_SECONDS = 2;
const GOAL_RATIO = 0.6;
if (args.log !== 'warn' && args.log !== 'info') throw new Error('--log must be warn or info');

// At info the node writes one access-log line per request to stdout; the report goes to stderr then,
// so `> /dev/null` (or a file) keeps the log's cost in the measurement without a terminal's.
const out = args.log === 'info' ? process.stderr : process.stdout;
const print = (line = '') => out.write(`${line}\n`);

type Row = { target: string; rps: number; p50: number; p99: number; non2xx: number; errors: number };

const loadAtStart = loadavg()[0];
print(`Node ${process.version}, ${availableParallelism()} CPUs; ${CONNECTIONS} connections, ${DURATION} s per target after a ${WARMUP_SECONDS} s warm-up.`);
print(`autocannon runs in a worker thread of this process: load generator and servers compete for the same ${availableParallelism()} cores.`);
print(`Load average (1 min) before the run: ${loadAtStart.toFixed(2)} (well above 0 means other work is sharing the cores and the numbers will wander).`);
print(args.log === 'info' ? 'API node LOG_LEVEL=info: access logs ON (one line per request, to stdout).' : 'API node LOG_LEVEL=warn: access logs OFF (use --log info to include them).');
print();

printJwtCost();

const rows: Row[] = [];
const json = JSON.stringify({ status: 'ok' });

const bare = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
  res.end(json);
});
const bareUrl = `${await listen(bare)}/`;
rows.push(await measure('bare node:http', bareUrl));

const koa = new Koa();
koa.use((ctx) => {
  ctx.body = { status: 'ok' };
});
const koaServer = http.createServer(koa.callback());
rows.push(await measure('bare Koa 3', `${await listen(koaServer)}/`));
await close(koaServer);

const node = await startApiNode(loadConfig(apiEnv()));
let apiHeaders: Record<string, string> = {};
try {
  const { accessToken } = await registerBenchUser(node.url, `bench_${Date.now().toString(36)}${process.pid}`);
  // The headers every API response carries (security headers, request id, Vary), to price them alone below.
  const probe = await fetch(`${node.url}/health`);
  await probe.text();
  apiHeaders = Object.fromEntries([...probe.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'content-length', 'content-type'].includes(k)));
  rows.push(await measure('API GET /health', `${node.url}/health`));
  rows.push(await measure('API GET /auth/me (auth)', `${node.url}/auth/me`, { Authorization: `Bearer ${accessToken}` }));
} finally {
  await node.shutdown('bench done');
}
// What those headers cost by themselves: node:http answering the same body with the same headers.
const withHeaders = http.createServer((_req, res) => {
  res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), ...apiHeaders });
  res.end(json);
});
rows.push(await measure(`node:http + API headers (${Object.keys(apiHeaders).length})`, `${await listen(withHeaders)}/`));
await close(withHeaders);
// The baseline again at the end: if the two differ much, something else ran on the machine and
// the ratios (taken against their mean) carry that uncertainty.
rows.push(await measure('bare node:http (again)', bareUrl));
await close(bare);

const baseline = (rows[0].rps + rows[rows.length - 1].rps) / 2;
printTable(rows, baseline);
const me = rows[3].rps / baseline;
const meVsHeaders = rows[3].rps / rows[4].rps;
const clean = rows.every((r) => r.non2xx === 0 && r.errors === 0);
print();
print(`Goal: authenticated GET /auth/me ≥ ${GOAL_RATIO}× bare node:http → ${me.toFixed(2)}× — ${me >= GOAL_RATIO ? 'MET' : 'NOT MET'}${clean ? '' : ' (some responses were not 2xx or failed: see the table)'}`);
print(`     against node:http sending the same headers: ${meVsHeaders.toFixed(2)}×`);

function apiEnv(): Record<string, string> {
  return benchApiEnv({ LOG_LEVEL: args.log! });
}


async function measure(target: string, url: string, headers: Record<string, string> = {}): Promise<Row> {
  // A first request fails fast on a wrong URL or token instead of after a whole run of 4xx.
  const probe = await fetch(url, { headers });
  if (!probe.ok) throw new Error(`${target}: ${url} answered ${probe.status}: ${await probe.text()}`);
  await probe.arrayBuffer();
  // Warm-up lets V8 optimise the hot paths and fills connection pools before anything counts.
  await cannon(url, headers, WARMUP_SECONDS);
  const r = await cannon(url, headers, DURATION);
  return { target, rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, non2xx: r.non2xx, errors: r.errors + r.timeouts };
}

function cannon(url: string, headers: Record<string, string>, duration: number): Promise<autocannon.Result> {
  return autocannon({ url, headers, connections: CONNECTIONS, duration, workers: 1 });
}

function listen(server: http.Server): Promise<string> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)));
}

function close(server: http.Server): Promise<void> {
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
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

function printTable(table: Row[], base: number): void {
  const header = ['target', 'req/s (mean)', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', '× node:http'];
  const body = table.map((r) => [r.target, r.rps.toFixed(0), String(r.p50), String(r.p99), String(r.non2xx), String(r.errors), (r.rps / base).toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  print(line(header));
  print(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of body) print(line(row));
  print('(× node:http is against the mean of both bare node:http runs; autocannon records latency in whole milliseconds.)');
}
