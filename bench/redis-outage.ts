// What does a Redis outage cost two API nodes (issue 9)? Both nodes reach the real Redis through a
// TCP proxy (test/fakes/tcpProxy.ts) that the bench cuts for --outage seconds, as if Redis had been
// killed, and then restores; the machine's redis-server itself keeps running.
//
// autocannon (in a worker thread) loads the authenticated, rate-limited GET /auth/me on both nodes
// before, during and after the cut, and prints requests/s and p50/p99 for each phase. During the
// cut, notifications are made on node A for a user whose only socket is on node B; that socket
// follows the client protocol (on `resync`, `notifications.sync` after the last id it saw), and the
// bench prints how long after recovery each notification reached it.
//
// Nodes, proxy and sockets share this process (one clock; but one event loop, so client work shows
// up as server time), and autocannon shares the machine's cores.
//
//   node bench/redis-outage.ts [--before 5] [--outage 10] [--after 5] [--connections 20] [--notifications 3]
import { availableParallelism, loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { io, type Socket } from 'socket.io-client';
import { loadConfig } from '../server/config.ts';
import { startApiNode, type ApiNode } from '../server/node.ts';
import { startTcpProxy } from '../test/fakes/tcpProxy.ts';
import { benchApiEnv, registerBenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    before: { type: 'string', default: '5' },
    outage: { type: 'string', default: '10' },
    after: { type: 'string', default: '5' },
    connections: { type: 'string', default: '20' },
    notifications: { type: 'string', default: '3' },
  },
});
const BEFORE_S = Number(args.before);
const OUTAGE_S = Number(args.outage);
const AFTER_S = Number(args.after);
const CONNECTIONS = Number(args.connections);
const NOTIFICATIONS = Number(args.notifications);
// The cut comes this long after the outage phase's load has started, so requests are in flight
// when Redis goes away (the moment the old limiter stalled worst).
const CUT_AFTER_MS = 200;
const REST_GOAL_P99_MS = 100;
const CATCH_UP_GOAL_MS = 10_000;
const REDIS = { host: '127.0.0.1', port: 6379 };

// A bounded run: whatever hangs, the process ends.
const budgetMs = (BEFORE_S + OUTAGE_S + AFTER_S + 60) * 1000;
setTimeout(() => {
  console.error(`redis-outage bench: gave up after ${budgetMs / 1000} s`);
  process.exit(1);
}, budgetMs).unref();

type Phase = { name: string; seconds: number; result: autocannon.Result };
type Made = { id: string; title: string; atMs: number; notifyMs: number; socketOutcome: string };

const runId = `${Date.now().toString(36)}${process.pid}`;
console.log(`Node ${process.version}, ${availableParallelism()} CPUs; load average (1 min) ${loadavg()[0].toFixed(2)}.`);
console.log(`Two API nodes in this process, Redis ${REDIS.host}:${REDIS.port} behind a TCP proxy; autocannon: ${CONNECTIONS} connections over both nodes, GET /auth/me (IP and user rate limits).`);
console.log(`Phases: ${BEFORE_S} s before, ${OUTAGE_S} s with Redis cut (from ${CUT_AFTER_MS} ms into the phase), ${AFTER_S} s after; ${NOTIFICATIONS} notifications made during the cut.`);
console.log();

const proxy = await startTcpProxy(REDIS);
const env = (nodeId: string) => benchApiEnv({ REDIS_URL: proxy.url, REDIS_KEY_PREFIX: `bench-outage-${runId}`, NODE_ID: nodeId });
const nodes: ApiNode[] = [];
let socket: Socket | undefined;
let exitCode = 0;
try {
  nodes.push(await startApiNode(loadConfig(env('bench-a'))));
  nodes.push(await startApiNode(loadConfig(env('bench-b'))));
  const [a, b] = nodes;
  const loadUser = await registerBenchUser(a.url, `outage_load_${runId}`);
  const listener = await registerBenchUser(a.url, `outage_listen_${runId}`);

  socket = io(`${b.url}/notifications`, { auth: { token: listener.accessToken }, transports: ['websocket'], reconnection: false });
  const client = followProtocol(socket);
  await new Promise<void>((resolve, reject) => {
    socket!.once('connect', () => resolve());
    socket!.once('connect_error', reject);
  });
  for (let i = 0; !(await a.realtime.port.hasLiveSocket(listener.id)); i++) {
    if (i > 1000) throw new Error('the socket on node B never became visible from node A');
    await new Promise((r) => setImmediate(r));
  }

  const cannon = (seconds: number) => autocannon({
    // autocannon spreads its connections over several URLs (its README, `url`); @types/autocannon declares one.
    url: nodes.map((n) => `${n.url}/auth/me`) as unknown as string,
    headers: { Authorization: `Bearer ${loadUser.accessToken}` },
    connections: CONNECTIONS,
    duration: seconds,
    workers: 1,
  });
  // A short warm-up, so the first phase does not pay for cold caches and unoptimised code.
  await cannon(1);

  const phases: Phase[] = [];
  phases.push({ name: 'before', seconds: BEFORE_S, result: await cannon(BEFORE_S) });

  const made: Made[] = [];
  const outageLoad = cannon(OUTAGE_S + CUT_AFTER_MS / 1000);
  await sleep(CUT_AFTER_MS);
  await proxy.cut();
  const cutAt = performance.now();
  for (let i = 0; i < NOTIFICATIONS; i++) {
    // Spread over the outage: the first soon after the cut, the last near its end.
    await sleepUntil(cutAt + ((i + 0.5) * OUTAGE_S * 1000) / NOTIFICATIONS);
    const started = performance.now();
    const r = await a.services.notifications.notify(listener.id, { type: 'social.follow', category: 'social', title: `outage ${i + 1}` });
    made.push({ id: r.notification.id, title: `outage ${i + 1}`, atMs: started - cutAt, notifyMs: performance.now() - started, socketOutcome: r.deliveries[0].outcome });
  }
  const liveDuringCut = made.filter((m) => client.arrivals.has(m.id)).length;
  await sleepUntil(cutAt + OUTAGE_S * 1000);
  await proxy.restore();
  const restoredAt = performance.now();
  phases.push({ name: `outage (Redis cut ${OUTAGE_S} s)`, seconds: OUTAGE_S + CUT_AFTER_MS / 1000, result: await outageLoad });

  const afterLoad = cannon(AFTER_S);
  const caughtUp = await Promise.race([
    Promise.all(made.map((m) => client.arrival(m.id))).then(() => true),
    sleep(CATCH_UP_GOAL_MS * 3).then(() => false),
  ]);
  phases.push({ name: 'after', seconds: AFTER_S, result: await afterLoad });

  printPhases(phases);
  console.log();
  console.log(`Notifications made on node A during the cut, for a user whose only socket is on node B (${liveDuringCut} reached it live during the cut):`);
  for (const m of made) {
    const at = client.arrivals.get(m.id);
    const delay = at === undefined ? 'NEVER' : `${(at.at - restoredAt).toFixed(0)} ms after recovery (${at.via})`;
    console.log(`  ${m.title.padEnd(10)} made ${(m.atMs / 1000).toFixed(1)} s into the cut; notify() ${m.notifyMs.toFixed(1)} ms, socket ${m.socketOutcome}; reached the socket ${delay}`);
  }
  const resync = client.resyncs[0];
  console.log(`  resync reached the socket ${resync === undefined ? 'NEVER' : `${(resync - restoredAt).toFixed(0)} ms after recovery`} (ioredis' reconnect backoff is most of it)`);
  console.log();

  const during = phases[1].result;
  const delays = made.map((m) => (client.arrivals.get(m.id)?.at ?? Infinity) - restoredAt);
  const worstDelay = Math.max(0, ...delays);
  const restMet = during.latency.p99 < REST_GOAL_P99_MS;
  const catchUpMet = caughtUp && worstDelay < CATCH_UP_GOAL_MS;
  console.log(`Goal: REST p99 < ${REST_GOAL_P99_MS} ms while Redis is down → ${during.latency.p99} ms — ${restMet ? 'MET' : 'NOT MET'}`);
  console.log(`Goal: notifications made during the cut reach their socket < ${CATCH_UP_GOAL_MS / 1000} s after recovery → ${Number.isFinite(worstDelay) ? `${worstDelay.toFixed(0)} ms` : 'some never did'} — ${catchUpMet ? 'MET' : 'NOT MET'}`);
  if (!caughtUp) exitCode = 1;
} finally {
  socket?.close();
  await Promise.all(nodes.map((n) => n.shutdown('bench done')));
  await proxy.close();
}
process.exit(exitCode);

// The client protocol: remember the last id; on `resync`, ask notifications.sync for what came after it.
function followProtocol(s: Socket) {
  const arrivals = new Map<string, { at: number; via: 'live' | 'resync' }>();
  const waiters = new Map<string, () => void>();
  const resyncs: number[] = [];
  let lastId: string | undefined;
  const saw = (id: string, via: 'live' | 'resync') => {
    if (!arrivals.has(id)) arrivals.set(id, { at: performance.now(), via });
    if (!lastId || BigInt(id) > BigInt(lastId)) lastId = id;
    waiters.get(id)?.();
  };
  s.on('notification', (e: { notification: { id: string } }) => saw(e.notification.id, 'live'));
  s.on('resync', async () => {
    resyncs.push(performance.now());
    let page: { items: { id: string }[]; hasMore: boolean };
    do {
      page = await s.emitWithAck('notifications.sync', lastId ? { after: lastId } : {});
      for (const n of page.items) saw(n.id, 'resync');
    } while (page.hasMore);
  });
  return {
    arrivals,
    resyncs,
    arrival: (id: string) => (arrivals.has(id) ? Promise.resolve() : new Promise<void>((resolve) => waiters.set(id, resolve))),
  };
}

function printPhases(phases: Phase[]): void {
  const header = ['phase', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors'];
  const rows = phases.map(({ name, seconds, result: r }) => [
    name,
    String(r.requests.total),
    (r.requests.total / seconds).toFixed(0),
    String(r.latency.p50),
    String(r.latency.p99),
    String(r.latency.max),
    String(r.non2xx),
    String(r.errors + r.timeouts),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
  console.log('(autocannon records latency in whole milliseconds; the outage phase starts 200 ms before the cut.)');
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function sleepUntil(at: number): Promise<void> {
  return sleep(Math.max(0, at - performance.now()));
}
