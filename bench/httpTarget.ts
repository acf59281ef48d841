// One server of bench/http.ts, in a process of its own: `node bench/httpTarget.ts <kind>`. It tells
// the parent its URL over IPC when it listens, answers {cpu} with its process CPU time so far, and
// exits on {stop}. Kinds: node, koa, node-headers and koa-headers (the headers come in BENCH_HEADERS),
// minimal (the least a Koa app can do to answer /auth/me), api (the real API node, with a user).
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { performance } from 'node:perf_hooks';
import Koa from 'koa';
import { Histogram } from 'prom-client';
import { loadConfig } from '../server/config.ts';
import { bearerToken } from '../server/http/auth.ts';
import { startApiNode } from '../server/node.ts';
import { createLimiter } from '../server/rateLimits.ts';
import { createTokenService } from '../services/identity/tokens.ts';
import { benchApiEnv, registerBenchUser } from './support.ts';

export type TargetKind = 'node' | 'koa' | 'node-headers' | 'koa-headers' | 'minimal' | 'api';
export type TargetReady = { url: string; token?: string; apiHeaders?: Record<string, string> };

const kind = process.argv[2] as TargetKind;
const json = JSON.stringify({ status: 'ok' });
// The API's response headers (read by the parent from a real /health response), to price them alone.
const apiHeaders: Record<string, string> = JSON.parse(process.env.BENCH_HEADERS ?? '{}');
const { 'x-request-id': _id, ...constantHeaders } = apiHeaders;

async function listen(handler: http.RequestListener): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

async function start(): Promise<TargetReady & { close: () => Promise<void> }> {
  switch (kind) {
    case 'node':
      return listen((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json) });
        res.end(json);
      });
    case 'node-headers':
      return listen((_req, res) => {
        res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(json), ...apiHeaders, 'x-request-id': crypto.randomUUID() });
        res.end(json);
      });
    case 'koa': {
      const app = new Koa();
      app.use((ctx) => {
        ctx.body = { status: 'ok' };
      });
      return listen(app.callback());
    }
    case 'koa-headers': {
      // What any Koa stack sending the API's headers pays before doing any work of its own.
      const app = new Koa();
      app.use((ctx) => {
        ctx.set('X-Request-Id', crypto.randomUUID());
        ctx.set(constantHeaders);
        ctx.body = { status: 'ok' };
      });
      return listen(app.callback());
    }
    case 'minimal': {
      const minimal = minimalAuthMe();
      return { ...(await listen(minimal.app.callback())), token: minimal.token };
    }
    case 'api': {
      const node = await startApiNode(loadConfig(benchApiEnv({ LOG_LEVEL: process.env.BENCH_LOG ?? 'warn' })));
      const { accessToken } = await registerBenchUser(node.url, `bench_${Date.now().toString(36)}${process.pid}`);
      const probe = await fetch(`${node.url}/health`);
      await probe.text();
      const headers = Object.fromEntries([...probe.headers].filter(([k]) => !['date', 'connection', 'keep-alive', 'content-length', 'content-type'].includes(k)));
      return { url: node.url, token: accessToken, apiHeaders: headers, close: () => node.shutdown('bench done') };
    }
    default:
      throw new Error(`unknown target kind ${kind}`);
  }
}

// The least a Koa app can do and still answer /auth/me with what every API request does: a request
// id, the security headers, Vary, a latency histogram and an error guard in one middleware, a static
// route lookup instead of a router, the per-IP and per-user limits, the real token service (cached
// verify) and the account and session from Maps. No CORS, no problem+json, no cache refill from
// Postgres: a bound on what any implementation of the real route can reach here.
function minimalAuthMe() {
  const tokens = createTokenService({ secret: crypto.randomBytes(32).toString('hex'), issuer: 'bench', audience: 'bench', accessTokenTtlSeconds: 1800, refreshTokenTtlSeconds: 86_400 });
  const user = { id: crypto.randomUUID(), email: 'minimal@example.com', username: 'minimal', displayName: null, role: 'user' as const, createdAt: '2026-11-22T09:00:00+09:00' };
  const sessionId = crypto.randomUUID();
  const accounts = new Map<string, typeof user>([[user.id, user]]);
  const liveSessions = new Set<string>([`${user.id}:${sessionId}`]);
  const token = tokens.signAccess({ userId: user.id, role: 'user', sessionId });
  const ipLimit = createLimiter({ name: 'bench-ip', points: 100_000_000, durationSeconds: 60 });
  const userLimit = createLimiter({ name: 'bench-user', points: 100_000_000, durationSeconds: 60 });
  const latency = new Histogram({ name: 'bench_http_seconds', help: 'bench', labelNames: ['method', 'route', 'status'], registers: [] });
  const routes = new Map<string, (ctx: Koa.Context) => Promise<void>>([
    ['GET /auth/me', async (ctx) => {
      if ((await ipLimit.consume(ctx.ip)) !== null) return void (ctx.status = 429);
      const claims = tokens.verifyAccess(bearerToken(ctx.get('authorization')) ?? '');
      if ((await userLimit.consume(claims.userId)) !== null) return void (ctx.status = 429);
      if (!liveSessions.has(`${claims.userId}:${claims.sessionId}`)) return void (ctx.status = 401);
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

const target = await start();
const { close, ...ready } = target;
process.send!({ type: 'ready', ...ready });
process.on('message', (msg: { type: string }) => {
  if (msg.type === 'cpu') {
    const cpu = process.cpuUsage();
    process.send!({ type: 'cpu', us: cpu.user + cpu.system });
  } else if (msg.type === 'stop') {
    void close().finally(() => process.exit(0));
  }
});
process.on('disconnect', () => process.exit(0));
