// Test factories and clients: real nodes on port 0, real HTTP, real Socket.IO clients.
import { spawn, type ChildProcess } from 'node:child_process';
import net from 'node:net';
import { Writable } from 'node:stream';
import { io as ioClient, type Socket } from 'socket.io-client';
import { loadConfig, type Config } from '../server/config.ts';
import { createLogger } from '../server/logger.ts';
import { startApiNode, type ApiNode } from '../server/node.ts';
import { moduleServices } from '../server/context.ts';
import type { AnyModule } from '../server/module.ts';
import type { Clock } from '../services/time.ts';
import { modules } from '../modules/index.ts';
import { cronJobs } from '../cron/index.ts';
import { coachModule } from '../modules/coach/index.ts';
import { widgetsModule } from './modules/widgets.ts';
import { testState } from './state.ts';

// Every test node runs the real module list plus the test module, which plugs in the way any module does.
export const testModules: AnyModule[] = [...modules, widgetsModule];

export const redisUrl = process.env.REDIS_URL;

export function testConfig(overrides: Record<string, string> = {}): Config {
  return loadConfig(testEnv(overrides), testModules);
}

export function testEnv(overrides: Record<string, string> = {}): Record<string, string> {
  return {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: testState.databaseUrl,
    MIGRATE_ON_START: 'false',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    RATE_LIMIT_IP_PER_MINUTE: '100000',
    RATE_LIMIT_USER_PER_MINUTE: '100000',
    RATE_LIMIT_AUTH_PER_MINUTE: '100000',
    REDIS_KEY_PREFIX: `test_${testState.runId}`,
    DATABASE_POOL_MAX: '4',
    WORKER_POOL_SIZE: '1',
    // Two listed modules sell RevenueCat subscriptions (the test module too): the coach owns them unless a test says otherwise.
    REVENUECAT_MODULE: 'coach',
    ...overrides,
  };
}

const started: ApiNode[] = [];

// `clock` moves the node's time for its decisions (quotas, expiries, quiet hours); the default is the system clock.
export async function startNode(overrides: Record<string, string> = {}, clock?: Clock): Promise<ApiNode> {
  const node = await startApiNode(testConfig(overrides), { modules: testModules, clock });
  started.push(node);
  return node;
}

export type LogLine = { level: number; msg: string; [field: string]: unknown };

// A node whose log lines, at `level` and above, the test reads (each parsed from pino's JSON).
export async function startNodeWithLogs(overrides: Record<string, string> = {}, level = 'debug'): Promise<{ node: ApiNode; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const logger = createLogger({ level, pretty: false, nodeId: 'test', destination });
  const node = await startApiNode(testConfig({ LOG_LEVEL: level, ...overrides }), { modules: testModules, logger });
  started.push(node);
  return { node, logs };
}

export async function stopAllNodes(): Promise<void> {
  await Promise.all(started.splice(0).map((n) => n.shutdown('test done')));
}

export type JsonResponse = { status: number; headers: Headers; body: any };

export async function request(node: { url: string }, method: string, path: string, opts: { body?: unknown; token?: string; headers?: Record<string, string>; raw?: string } = {}): Promise<JsonResponse> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.body !== undefined || opts.raw !== undefined) headers['content-type'] ??= 'application/json';
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  const res = await fetch(node.url + path, { method, headers, body: opts.raw ?? (opts.body !== undefined ? JSON.stringify(opts.body) : undefined) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, body };
}

let userCounter = 0;

// Reads until `done` says what it waits for has landed (work that runs after a commit, off the
// request: notifications, pushes, ranking scores), or gives up after `tries` more reads `everyMs`
// apart and returns the last read, for the test's own assertion to judge.
export async function settled<T>(read: () => Promise<T>, done: (value: T) => boolean, opts: { tries?: number; everyMs?: number } = {}): Promise<T> {
  const { tries = 100, everyMs = 20 } = opts;
  for (let i = 0; ; i++) {
    const value = await read();
    if (done(value) || i >= tries) return value;
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// Runs a node's cron job once, now, as the cron process would (two calls at once are two cron nodes
// racing). The job's own answer is returned.
export async function runCronJob(node: ApiNode, name: string): Promise<Record<string, unknown> | void> {
  const job = cronJobs(node.services).find((j) => j.name === name);
  if (!job) throw new Error(`no cron job named ${name} on this node`);
  return job.run({ em: node.ctx.db.orm.em.fork(), logger: node.ctx.logger, signal: new AbortController().signal });
}

export type TestUser = { id: string; email: string; username: string; password: string; accessToken: string; refreshToken: string };

export async function newUser(node: { url: string }, overrides: Partial<{ email: string; username: string; password: string }> = {}): Promise<TestUser> {
  const n = `${Date.now().toString(36)}${++userCounter}`;
  const input = { email: `user${n}@example.com`, username: `user_${n}`, password: 'correct horse 42', ...overrides };
  const res = await request(node, 'POST', '/auth/register', { body: input });
  if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
  return { ...input, id: res.body.user.id, accessToken: res.body.accessToken, refreshToken: res.body.refreshToken };
}

const sockets: Socket[] = [];

export function connectSocket(node: { url: string }, namespace: string, auth: Record<string, unknown> | undefined, opts: Record<string, unknown> = {}): Socket {
  const socket = ioClient(node.url + namespace, { auth, transports: ['websocket'], reconnection: false, forceNew: true, ...opts });
  sockets.push(socket);
  return socket;
}

// The next occurrence of a client-side event, resolved with its first argument.
export function nextEvent<T = any>(socket: Socket, event: string): Promise<T> {
  return new Promise((resolve) => socket.once(event, (arg: T) => resolve(arg)));
}

export async function connected(socket: Socket): Promise<void> {
  if (socket.connected) return;
  const outcome = await Promise.race([nextEvent(socket, 'connect').then(() => 'ok'), nextEvent<Error>(socket, 'connect_error')]);
  if (outcome !== 'ok') throw outcome;
}

export function connectError(socket: Socket): Promise<Error & { data?: { code: string } }> {
  return nextEvent(socket, 'connect_error');
}

export function closeAllSockets(): void {
  for (const s of sockets.splice(0)) s.close();
}

// The coach's services on a node, typed by its definition.
export const coach = (node: ApiNode) => moduleServices(node.services, coachModule);

// A port free on 127.0.0.1 right now (for a server the test starts in another process).
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
    srv.on('error', reject);
  });
}

// Loads coach knowledge through the admin route, as an operator would (a fresh admin account).
export async function ingestKnowledge(node: ApiNode, documents: { game: string; title: string; content: string; category?: string; tags?: string[] }[]): Promise<void> {
  const admin = await newUser(node);
  await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
  const res = await request(node, 'POST', '/admin/coach/ingest', { token: admin.accessToken, body: { documents } });
  if (res.status !== 200 && res.status !== 201) throw new Error(`ingest answered ${res.status}: ${JSON.stringify(res.body)}`);
}

// `npm start`'s process (server/main.ts, every module of modules/index.ts) on the test database, as a
// real child process a test can kill. `output` keeps what it printed, for the failure message.
export async function spawnServer(env: Record<string, string>): Promise<{ url: string; proc: ChildProcess; exited: Promise<number | null>; output: () => string }> {
  const port = await freePort();
  const proc = spawn(process.execPath, ['server/main.ts'], {
    env: { ...process.env, ...testEnv({ ...env, PORT: String(port), LOG_LEVEL: env.LOG_LEVEL ?? 'info', COACH_KB_SEED_ON_START: 'false' }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  let output = '';
  proc.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  proc.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const onData = () => {
      if (output.includes('API node listening')) resolve();
    };
    proc.stdout!.on('data', onData);
    void exited.then((code) => reject(new Error(`node exited (${code}) before listening:\n${output.slice(-2000)}`)));
  });
  return { url: `http://127.0.0.1:${port}`, proc, exited, output: () => output };
}
