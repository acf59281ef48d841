// Walking together under load: --sockets walkers (default 2,000) in sessions of --session-size (10),
// each sending one position a second on /walk; every position goes to the other walkers of its
// session. Measured: relay latency (the sender's emit to a receiver's event) p50/p99 and the delivered
// rate, for the real API node (token auth, zod, membership and home-zone check, the 1 Hz limit and
// last position in Redis, the sharded Redis adapter) and, in the same run, for a bare Socket.IO relay
// on the same adapter (the floor: join a room, relay `position` to it, ack). Goal: p99 < 50 ms and a
// delivered rate ≥ 0.8× the floor's.
//
// Every piece runs in a process of its own, as in production: the server (this file, role `server`),
// and the clients split over --client-procs processes (role `clients`), each holding whole sessions so
// that a receiver reads the send time its sender recorded (one clock, sub-millisecond). This process
// registers the users and coordinates. They all share this machine's cores with Redis and Postgres.
//
//   node bench/walk-together.ts [--sockets 2000] [--session-size 10] [--warmup 5] [--duration 20]
//                               [--client-procs 2] [--only api|floor]
import { fork, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { createShardedAdapter } from '@socket.io/redis-adapter';
import { Redis } from 'ioredis';
import { Server } from 'socket.io';
import { io, type Socket } from 'socket.io-client';
import { benchApiEnv, mapLimited, percentile, registerBenchUser, type BenchUser } from './support.ts';

const REDIS_URL = 'redis://127.0.0.1:6379';
const role = process.argv[2];
const now = () => performance.timeOrigin + performance.now();

type Kind = 'api' | 'floor';
type Walker = { id: string; token?: string; zone: boolean };
// A walker once in a session: which, and how many others receive each of its positions.
type Seat = Walker & { sessionId: string; others: number };
type ClientJob = { kind: Kind; url: string; sessions: Walker[][]; startAt: number; warmupMs: number; durationMs: number; drainMs: number };
type ClientReport = {
  sent: number; sentInWindow: number; ackOk: number; ackErrors: Record<string, number>; blurred: number;
  expected: number; delivered: number; latencies: number[]; ackLatencies: number[]; loopP99Ms: number; loopMaxMs: number;
};

if (role === 'server') await serverRole(process.argv[3] as Kind);
else if (role === 'clients') clientsRole();
else await main();

// ---- coordinator ----

async function main() {
  const { values: args } = parseArgs({
    options: {
      sockets: { type: 'string', default: '2000' },
      'session-size': { type: 'string', default: '10' },
      warmup: { type: 'string', default: '5' },
      duration: { type: 'string', default: '20' },
      'client-procs': { type: 'string', default: '2' },
      only: { type: 'string' },
    },
  });
  const SOCKETS = Number(args.sockets);
  const SIZE = Number(args['session-size']);
  const PROCS = Number(args['client-procs']);
  const WARMUP_MS = Number(args.warmup) * 1000;
  const DURATION_MS = Number(args.duration) * 1000;
  const DRAIN_MS = 3000;
  const kinds: Kind[] = args.only ? [args.only as Kind] : ['api', 'floor'];
  if (SOCKETS % SIZE !== 0) throw new Error('--sockets must be a multiple of --session-size');
  const print = (line = '') => process.stdout.write(`${line}\n`);
  // A bounded run, whatever hangs.
  setTimeout(() => {
    console.error('walk-together bench: gave up after 15 minutes');
    process.exit(1);
  }, 15 * 60_000).unref();

  print(`Node ${process.version}, ${availableParallelism()} CPUs, load average (1 min) ${loadavg()[0].toFixed(2)} before the run.`);
  print(`${SOCKETS} sockets in ${SOCKETS / SIZE} sessions of ${SIZE}, 1 position/s each (${SOCKETS} in/s, ${SOCKETS * (SIZE - 1)} relayed/s offered);`);
  print(`${WARMUP_MS / 1000} s warm-up, then ${DURATION_MS / 1000} s measured per target; server, ${PROCS} client processes, Redis and Postgres share the cores.`);
  print();

  const results = new Map<Kind, { report: ClientReport; cpu: number }>();
  for (const kind of kinds) {
    const server = await startServer(kind);
    try {
      let walkers: Walker[];
      if (kind === 'api') {
        const t = performance.now();
        const runId = `${Date.now().toString(36)}${process.pid}`;
        const users = await mapLimited(SOCKETS, 8, (i) => registerBenchUser(server.url, `wt${runId}_${i}`));
        print(`api: registered ${SOCKETS} users in ${((performance.now() - t) / 1000).toFixed(1)} s`);
        // One walker in five has a home zone around their walk, so their positions are blurred.
        walkers = users.map((u: BenchUser, i) => ({ id: u.id, token: u.accessToken, zone: i % 5 === 0 }));
        await server.ask({ type: 'profiles', walkers });
      } else {
        walkers = Array.from({ length: SOCKETS }, (_, i) => ({ id: crypto.randomUUID(), zone: i % 5 === 0 }));
      }
      const sessions = Array.from({ length: SOCKETS / SIZE }, (_, i) => walkers.slice(i * SIZE, (i + 1) * SIZE));
      const t = performance.now();
      const clients = await Promise.all(Array.from({ length: PROCS }, (_, p) => startClients(sessions.filter((_, i) => i % PROCS === p), kind, server.url)));
      print(`${kind}: ${SOCKETS} sockets connected and in their sessions in ${((performance.now() - t) / 1000).toFixed(1)} s`);
      const startAt = Date.now() + 1000;
      const cpuAt = async (at: number) => {
        await new Promise((r) => setTimeout(r, Math.max(0, at - Date.now())));
        return (await server.ask({ type: 'cpu' })).us as number;
      };
      const reports = clients.map((c) => c.run({ startAt, warmupMs: WARMUP_MS, durationMs: DURATION_MS, drainMs: DRAIN_MS }));
      const cpu0 = await cpuAt(startAt + WARMUP_MS);
      const cpu1 = await cpuAt(startAt + WARMUP_MS + DURATION_MS);
      const report = merge(await Promise.all(reports));
      results.set(kind, { report, cpu: (cpu1 - cpu0) / 1000 / DURATION_MS });
      print(`${kind}: done (${report.delivered} of ${report.expected} relays measured)`);
    } finally {
      await server.stop();
    }
  }

  print();
  const row = (label: string, f: (r: ClientReport, cpu: number) => string) => print(`${label.padEnd(34)}${kinds.map((k) => f(results.get(k)!.report, results.get(k)!.cpu).padStart(22)).join('')}`);
  const ms = (v: number) => `${v.toFixed(1)} ms`;
  print(`${''.padEnd(34)}${kinds.map((k) => (k === 'api' ? 'API /walk' : 'bare Socket.IO relay').padStart(22)).join('')}`);
  row('positions sent/s (window)', (r) => (r.sentInWindow / (DURATION_MS / 1000)).toFixed(0));
  row('acks ok / errors', (r) => `${r.ackOk} / ${Object.values(r.ackErrors).reduce((a, b) => a + b, 0)}`);
  row('relays delivered / expected', (r) => `${r.delivered} / ${r.expected}`);
  row('delivered relays/s', (r) => (r.delivered / (DURATION_MS / 1000)).toFixed(0));
  row('relay latency p50', (r) => ms(percentile(r.latencies, 50)));
  row('relay latency p99', (r) => ms(percentile(r.latencies, 99)));
  row('relay latency max', (r) => ms(r.latencies.at(-1) ?? NaN));
  row('ack latency p50 / p99', (r) => `${ms(percentile(r.ackLatencies, 50))} / ${ms(percentile(r.ackLatencies, 99))}`);
  row('server CPU (share of one core)', (_r, cpu) => `${(cpu * 100).toFixed(0)} %`);
  row('client event-loop lag p99 / max', (r) => `${ms(r.loopP99Ms)} / ${ms(r.loopMaxMs)}`);
  const api = results.get('api')?.report;
  if (api) {
    const errors = Object.entries(api.ackErrors).map(([c, n]) => `${c} ${n}`).join(', ');
    if (errors) print(`API ack errors: ${errors}`);
    print(`API positions blurred (sender inside a home zone): ${api.blurred}`);
  }
  const floor = results.get('floor')?.report;
  print();
  if (api) {
    const p99 = percentile(api.latencies, 99);
    print(`Goal: p99 relay latency < 50 ms → ${p99.toFixed(1)} ms — ${p99 < 50 ? 'MET' : 'NOT MET'}`);
  }
  if (api && floor) {
    const ratio = api.delivered / floor.delivered;
    print(`Goal: delivered rate ≥ 0.8× the bare relay → ${ratio.toFixed(2)}× — ${ratio >= 0.8 ? 'MET' : 'NOT MET'}`);
    print(`Floor (bare Socket.IO relay, same adapter): p99 ${percentile(floor.latencies, 99).toFixed(1)} ms, ${(floor.delivered / (DURATION_MS / 1000)).toFixed(0)} relays/s`);
  }
  process.exit(0);
}

function merge(reports: ClientReport[]): ClientReport {
  const out: ClientReport = { sent: 0, sentInWindow: 0, ackOk: 0, ackErrors: {}, blurred: 0, expected: 0, delivered: 0, latencies: [], ackLatencies: [], loopP99Ms: 0, loopMaxMs: 0 };
  for (const r of reports) {
    out.sent += r.sent;
    out.sentInWindow += r.sentInWindow;
    out.ackOk += r.ackOk;
    out.blurred += r.blurred;
    out.expected += r.expected;
    out.delivered += r.delivered;
    for (const [k, v] of Object.entries(r.ackErrors)) out.ackErrors[k] = (out.ackErrors[k] ?? 0) + v;
    for (const v of r.latencies) out.latencies.push(v);
    for (const v of r.ackLatencies) out.ackLatencies.push(v);
    out.loopP99Ms = Math.max(out.loopP99Ms, r.loopP99Ms);
    out.loopMaxMs = Math.max(out.loopMaxMs, r.loopMaxMs);
  }
  out.latencies.sort((a, b) => a - b);
  out.ackLatencies.sort((a, b) => a - b);
  return out;
}

type Child = { url: string; ask: (msg: { type: string; [k: string]: unknown }) => Promise<any>; stop: () => Promise<void> };

function child(args: string[], stdio: 'inherit' | 'ignore' = 'inherit'): Promise<{ proc: ChildProcess; ready: any; ask: Child['ask'] }> {
  const proc = fork(new URL(import.meta.url), args, { stdio: ['ignore', stdio, 'inherit', 'ipc'] });
  const waiting: ((msg: any) => void)[] = [];
  return new Promise((resolve, reject) => {
    proc.once('exit', (code) => reject(new Error(`bench process ${args.join(' ')} exited (${code}) before it was ready`)));
    proc.on('message', (msg: any) => {
      if (msg.type === 'ready') resolve({ proc, ready: msg, ask: (m) => new Promise((r) => (waiting.push(r), proc.send(m))) });
      else waiting.shift()?.(msg);
    });
  });
}

async function startServer(kind: Kind): Promise<Child> {
  const { proc, ready, ask } = await child(['server', kind]);
  return {
    url: ready.url,
    ask,
    stop: () => new Promise((resolve) => {
      if (proc.exitCode !== null) return resolve();
      proc.once('exit', () => resolve());
      proc.send({ type: 'stop' });
    }),
  };
}

async function startClients(sessions: Walker[][], kind: Kind, url: string) {
  const { proc, ask } = await child(['clients']);
  await ask({ type: 'connect', kind, url, sessions });
  return {
    run: async (timing: Pick<ClientJob, 'startAt' | 'warmupMs' | 'durationMs' | 'drainMs'>): Promise<ClientReport> => {
      const report = await ask({ type: 'run', ...timing });
      proc.kill();
      return report;
    },
  };
}

// ---- server: the API node, or the bare relay ----

async function serverRole(kind: Kind) {
  const prefix = `bench-wt-${Date.now().toString(36)}${process.pid}`;
  let url: string;
  let close: () => Promise<void>;
  let onAsk: (msg: any) => Promise<unknown> = async () => ({});
  if (kind === 'api') {
    const { loadConfig } = await import('../server/config.ts');
    const { startApiNode } = await import('../server/node.ts');
    const { createDatabaseIfMissing, dropDatabase } = await import('../server/db.ts');
    // A database of its own, dropped at the end: the run migrates it and leaves nothing behind.
    let database: Record<string, string> = {};
    let dropDb: (() => Promise<void>) | undefined;
    if (process.env.DATABASE_URL) {
      const dbUrl = new URL(process.env.DATABASE_URL);
      dbUrl.pathname = `/${prefix.replace(/-/g, '_')}`;
      await createDatabaseIfMissing(dbUrl.toString());
      database = { DATABASE_URL: dbUrl.toString() };
      dropDb = () => dropDatabase(dbUrl.toString());
    }
    const env = { ...benchApiEnv({ REDIS_URL, REDIS_KEY_PREFIX: prefix, COACH_KB_SEED_ON_START: 'false' }), ...database };
    const node = await startApiNode(loadConfig(env));
    url = node.url;
    onAsk = async (msg) => {
      if (msg.type !== 'profiles') return {};
      // Home zones around the walkers' start (see clientsRole: everyone walks near Seoul City Hall).
      const walkers = msg.walkers as Walker[];
      const em = node.ctx.db.orm.em.fork();
      for (let i = 0; i < walkers.length; i += 500) {
        const chunk = walkers.slice(i, i + 500);
        await em.execute(
          `insert into walk_profiles (user_id, nickname, home_zones) select u, 'bench', case when z then ?::jsonb else '[]'::jsonb end from unnest(?::uuid[], ?::boolean[]) as t(u, z)`,
          [JSON.stringify([{ lat: 37.5665, lng: 126.978, radiusM: 2000 }]), `{${chunk.map((w) => w.id).join(',')}}`, `{${chunk.map((w) => w.zone).join(',')}}`]);
      }
      return {};
    };
    close = async () => {
      await node.shutdown('bench done');
      await dropDb?.().catch(() => undefined);
      const redis = new Redis(REDIS_URL);
      const keys = await redis.keys(`${prefix}:*`);
      if (keys.length) await redis.unlink(...keys);
      redis.disconnect();
    };
  } else {
    const pub = new Redis(REDIS_URL);
    const sub = pub.duplicate();
    const httpServer = http.createServer();
    const ioServer = new Server(httpServer, { adapter: createShardedAdapter(pub, sub, { subscriptionMode: 'dynamic', channelPrefix: `${prefix}:socket.io` }) });
    ioServer.of('/walk').on('connection', (socket) => {
      const userId = String(socket.handshake.auth.userId);
      void socket.join(`user:${userId}`);
      socket.on('session.join', ({ sessionId }: { sessionId: string }, ack: (r: unknown) => void) => {
        void socket.join(`together:${sessionId}`);
        ack({ ok: true, positions: [] });
      });
      socket.on('position', (p: { sessionId: string; lat: number; lng: number; t: number; accuracy: number }, ack: (r: unknown) => void) => {
        socket.to(`together:${p.sessionId}`).except(`user:${userId}`).emit('session.position', { ...p, userId, blurred: false });
        ack({ ok: true, blurred: false });
      });
    });
    await new Promise<void>((resolve) => httpServer.listen(0, '127.0.0.1', () => resolve()));
    url = `http://127.0.0.1:${(httpServer.address() as AddressInfo).port}`;
    close = async () => {
      await new Promise<void>((resolve) => ioServer.close(() => resolve()));
      pub.disconnect();
      sub.disconnect();
    };
  }
  process.send!({ type: 'ready', url });
  process.on('message', (msg: { type: string }) => {
    if (msg.type === 'cpu') {
      const cpu = process.cpuUsage();
      process.send!({ type: 'cpu', us: cpu.user + cpu.system });
    } else if (msg.type === 'stop') {
      void close().finally(() => process.exit(0));
    } else {
      void onAsk(msg).then((r) => process.send!(r));
    }
  });
  process.on('disconnect', () => process.exit(0));
}

// ---- clients: whole sessions, so a receiver reads its sender's send time ----

function clientsRole() {
  const sockets = new Map<string, Socket>();
  const sentAt = new Map<string, number>();
  let job: ClientJob;
  const report: ClientReport = { sent: 0, sentInWindow: 0, ackOk: 0, ackErrors: {}, blurred: 0, expected: 0, delivered: 0, latencies: [], ackLatencies: [], loopP99Ms: 0, loopMaxMs: 0 };
  const inWindow = (at: number) => at >= job.startAt + job.warmupMs && at < job.startAt + job.warmupMs + job.durationMs;

  const connect = (w: Walker): Promise<Socket> => {
    const socket = io(`${job.url}/walk`, { auth: job.kind === 'api' ? { token: w.token } : { userId: w.id }, transports: ['websocket'], forceNew: true, reconnection: false });
    sockets.set(w.id, socket);
    socket.on('session.position', (p: { userId: string; t: number }) => {
      const at = sentAt.get(`${p.userId}:${p.t}`);
      if (at === undefined || !inWindow(at)) return;
      report.delivered++;
      report.latencies.push(now() - at);
    });
    return new Promise((resolve, reject) => {
      socket.once('connect', () => resolve(socket));
      socket.once('connect_error', (err) => reject(new Error(`connect failed: ${err.message}`)));
    });
  };

  async function setUp(): Promise<void> {
    for (const session of job.sessions) {
      await Promise.all(session.map(connect));
      const [creator, ...others] = session;
      let sessionId: string = crypto.randomUUID();
      if (job.kind === 'api') {
        const created = await sockets.get(creator.id)!.timeout(20_000).emitWithAck('session.create', { invitees: others.map((w) => w.id) });
        if (!created.ok) throw new Error(`session.create: ${JSON.stringify(created)}`);
        sessionId = created.sessionId;
      }
      const joining = job.kind === 'api' ? others : session;
      const joined = await Promise.all(joining.map((w) => sockets.get(w.id)!.timeout(20_000).emitWithAck('session.join', { sessionId })));
      const bad = joined.find((j) => !j.ok);
      if (bad) throw new Error(`session.join: ${JSON.stringify(bad)}`);
      for (const w of session) Object.assign(w, { sessionId, others: session.length - 1 });
    }
  }

  async function run(): Promise<ClientReport> {
    const walkers = job.sessions.flat() as Seat[];
    const n = walkers.length;
    // Each walker sends at its own offset within the second, never twice within 1000 ms (a late
    // timer shifts its later sends instead of bunching them, as a phone's would).
    const due = walkers.map((_, i) => job.startAt + (i / n) * 1000);
    const end = job.startAt + job.warmupMs + job.durationMs;
    const lag = monitorEventLoopDelay({ resolution: 1 });
    await new Promise((r) => setTimeout(r, Math.max(0, job.startAt - Date.now())));
    lag.enable();
    await new Promise<void>((resolve) => {
      const tick = setInterval(() => {
        const t = now();
        if (t >= end) {
          clearInterval(tick);
          return resolve();
        }
        for (let i = 0; i < n; i++) {
          if (due[i] > t) continue;
          due[i] = Math.max(due[i] + 1000, t + 1000 - 5);
          send(walkers[i], i, t);
        }
      }, 5);
    });
    await new Promise((r) => setTimeout(r, job.drainMs));
    lag.disable();
    report.loopP99Ms = lag.percentile(99) / 1e6;
    report.loopMaxMs = lag.max / 1e6;
    return report;
  }

  function send(w: Seat, i: number, at: number) {
    // A slow walk near Seoul City Hall; a fifth of the walkers are inside their 2 km home zone.
    const step = report.sent;
    const t = Math.round(Date.now());
    const lat = 37.5665 + ((i % 97) - 48) * 1e-4 + (step % 60) * 1e-6;
    const lng = 126.978 + ((i % 89) - 44) * 1e-4;
    sentAt.set(`${w.id}:${t}`, at);
    report.sent++;
    const counted = inWindow(at);
    if (counted) report.sentInWindow++;
    sockets.get(w.id)!.timeout(10_000).emitWithAck('position', { sessionId: w.sessionId, lat, lng, t, accuracy: 5 }).then((r: any) => {
      report.ackLatencies.push(now() - at);
      if (r.ok) {
        report.ackOk++;
        if (r.blurred) report.blurred++;
        if (counted) report.expected += w.others;
      } else {
        report.ackErrors[r.error?.code ?? 'unknown'] = (report.ackErrors[r.error?.code ?? 'unknown'] ?? 0) + 1;
      }
    }, () => {
      report.ackErrors.ack_timeout = (report.ackErrors.ack_timeout ?? 0) + 1;
    });
  }

  process.on('message', (msg: any) => {
    if (msg.type === 'connect') {
      job = { ...msg, startAt: 0, warmupMs: 0, durationMs: 0, drainMs: 0 };
      setUp().then(() => process.send!({ type: 'connected' }), (err: Error) => {
        console.error(err);
        process.exit(1);
      });
    } else if (msg.type === 'run') {
      Object.assign(job, { startAt: msg.startAt, warmupMs: msg.warmupMs, durationMs: msg.durationMs, drainMs: msg.drainMs });
      void run().then((r) => {
        process.send!(r);
        for (const s of sockets.values()) s.disconnect();
      });
    }
  });
  process.send!({ type: 'ready' });
  process.on('disconnect', () => process.exit(0));
}
