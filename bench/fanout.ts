// How fast does a server-side room broadcast reach its sockets? One API node, N real socket.io
// clients on /notifications in rooms of --room-size (all sockets of a room sign in as one user, so
// they share its `user:<id>` room, the room services publish to). Each round the server emits once
// to every room; clients record receive time − sentAt. With --redis the node uses the sharded Redis
// adapter, so every broadcast is also published to Redis as it would be with several nodes.
//
// Clients and server share this process (one clock, so no skew; but one event loop, so client work
// shows up as server lag and inflates latency).
//
//   node bench/fanout.ts [--sockets 500] [--room-size 10] [--messages 20] [--interval 50] [--redis]
import { availableParallelism } from 'node:os';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { io, type Socket } from 'socket.io-client';
import { loadConfig } from '../server/config.ts';
import { startApiNode } from '../server/node.ts';
import { benchApiEnv, mapLimited, percentile, registerBenchUser, type BenchUser } from './support.ts';

const { values: args } = parseArgs({
  options: {
    sockets: { type: 'string', default: '500' },
    'room-size': { type: 'string', default: '10' },
    messages: { type: 'string', default: '20' },
    interval: { type: 'string', default: '50' }, // ms between rounds
    redis: { type: 'boolean', default: false },
  },
});
const SOCKETS = Number(args.sockets);
const ROOM_SIZE = Number(args['room-size']);
const ROUNDS = Number(args.messages);
const INTERVAL_MS = Number(args.interval);
const ROOMS = Math.ceil(SOCKETS / ROOM_SIZE);
const EXPECTED = SOCKETS * ROUNDS;
const REGISTER_CONCURRENCY = 8; // argon2 hashing runs on libuv's 4 threads; more only queues
const CONNECT_BATCH = 50;
const DELIVERY_TIMEOUT_MS = 30_000;

type BenchMessage = { sentAt: number; seq: number };

// A bounded run: whatever hangs, the process ends within two minutes.
setTimeout(() => {
  console.error('fanout bench: gave up after 110 s');
  process.exit(1);
}, 110_000).unref();

const now = () => performance.timeOrigin + performance.now();
const runId = `${Date.now().toString(36)}${process.pid}`;
const redisPrefix = `bench-${runId}`;

console.log(`Node ${process.version}, ${availableParallelism()} CPUs; adapter: ${args.redis ? `sharded Redis (prefix ${redisPrefix})` : 'in-memory'}`);
console.log(`${SOCKETS} sockets in ${ROOMS} rooms of ≤ ${ROOM_SIZE} (one user each), ${ROUNDS} rounds every ${INTERVAL_MS} ms`);

const node = await startApiNode(loadConfig(benchApiEnv(args.redis ? { REDIS_URL: 'redis://127.0.0.1:6379', REDIS_KEY_PREFIX: redisPrefix } : {})));
const sockets: Socket[] = [];
const latencies: number[] = [];
let lastReceivedAt = 0;
let allDelivered: () => void = () => {};
const delivered = new Promise<void>((resolve) => (allDelivered = resolve));

try {
  let t = performance.now();
  const users = await mapLimited(ROOMS, REGISTER_CONCURRENCY, (i) => registerBenchUser(node.url, `f${runId}_${i}`));
  console.log(`registered ${ROOMS} users in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  t = performance.now();
  for (let start = 0; start < SOCKETS; start += CONNECT_BATCH) {
    const batch = Array.from({ length: Math.min(CONNECT_BATCH, SOCKETS - start) }, (_, i) => connect(users[Math.floor((start + i) / ROOM_SIZE)]));
    await Promise.all(batch);
  }
  console.log(`connected ${SOCKETS} sockets in ${((performance.now() - t) / 1000).toFixed(1)} s`);

  const nsp = node.realtime.namespace('notifications')!;
  // The server joins rooms in its connection handler, before the client sees `connect`; this
  // confirms it, so a missing delivery later cannot be a room that was never joined.
  for (const [i, user] of users.entries()) {
    const size = nsp.adapter.rooms.get(`user:${user.id}`)?.size ?? 0;
    const want = Math.min(ROOM_SIZE, SOCKETS - i * ROOM_SIZE);
    if (size !== want) throw new Error(`room user:${user.id} has ${size} sockets, expected ${want}`);
  }

  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  const firstSentAt = now();
  const started = performance.now();
  for (let seq = 0; seq < ROUNDS; seq++) {
    // Pacing only (each round at its own slot, so a slow round does not shift the rest).
    await new Promise((r) => setTimeout(r, Math.max(0, started + seq * INTERVAL_MS - performance.now())));
    for (const user of users) nsp.to(`user:${user.id}`).emit('bench', { sentAt: now(), seq } satisfies BenchMessage);
  }
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([delivered, new Promise((r) => (timer = setTimeout(r, DELIVERY_TIMEOUT_MS)))]);
  clearTimeout(timer);
  lag.disable();

  latencies.sort((a, b) => a - b);
  const seconds = (lastReceivedAt - firstSentAt) / 1000;
  const ms = (v: number) => v.toFixed(2);
  console.log();
  console.log(`messages delivered      ${latencies.length} / ${EXPECTED}${latencies.length === EXPECTED ? '' : '  ← INCOMPLETE'}`);
  console.log(`delivered messages/s    ${(latencies.length / seconds).toFixed(0)}  (offered: ${((SOCKETS * 1000) / INTERVAL_MS).toFixed(0)}/s by the pacing)`);
  console.log(`delivery latency ms     p50 ${ms(percentile(latencies, 50))}  p99 ${ms(percentile(latencies, 99))}  max ${ms(latencies.at(-1) ?? NaN)}`);
  console.log(`event-loop lag ms       p99 ${ms(lag.percentile(99) / 1e6)}  max ${ms(lag.max / 1e6)}`);
  console.log('Clients and server share one process and event loop: client-side decoding counts as server lag and adds to latency.');
  if (latencies.length !== EXPECTED) process.exitCode = 1;
} finally {
  for (const s of sockets) s.disconnect();
  await node.shutdown('bench done');
}

function onMessage(msg: BenchMessage): void {
  lastReceivedAt = now();
  latencies.push(lastReceivedAt - msg.sentAt);
  if (latencies.length === EXPECTED) allDelivered();
}

function connect(user: BenchUser): Promise<void> {
  // forceNew: without it socket.io-client multiplexes every socket to one URL over one connection.
  const socket = io(`${node.url}/notifications`, { auth: { token: user.accessToken }, transports: ['websocket'], forceNew: true, reconnection: false });
  sockets.push(socket);
  socket.on('bench', onMessage);
  return new Promise((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('connect_error', (err) => reject(new Error(`socket connect failed: ${err.message}`)));
  });
}




