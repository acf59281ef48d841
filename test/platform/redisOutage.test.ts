// Redis goes away under two nodes and comes back: REST keeps answering at once with per-node
// limits, notify() does not wait on presence, and a notification stored during the outage reaches
// the user's socket on the other node soon after recovery (resync → notifications.sync).
// The outage is a TCP proxy between the nodes and the real Redis, cut and restored by the test, so
// the shared redis-server keeps running for everyone else.
import { Writable } from 'node:stream';
import { expect } from 'chai';
import { Redis } from 'ioredis';
import type { Socket } from 'socket.io-client';
import { createRedisInvalidationBus } from '../../server/invalidationBus.ts';
import { createLogger } from '../../server/logger.ts';
import { startApiNode, type ApiNode } from '../../server/node.ts';
import { PRESENCE_TIMEOUT_MS } from '../../realtime/index.ts';
import { closeAllSockets, connectSocket, connected, newUser, nextEvent, redisUrl, request, startNode, stopAllNodes, testConfig, testModules } from '../helpers.ts';
import { testState } from '../state.ts';
import { startTcpProxy, type TcpProxy } from '../fakes/tcpProxy.ts';

// The platform's promise while Redis is down (issue 9).
const REST_BUDGET_MS = 100;
const CATCH_UP_BUDGET_MS = 10_000;
const USER_LIMIT = 20;

describe('platform: a Redis outage under two nodes', function () {
  let proxy: TcpProxy;
  let a: ApiNode;
  let b: ApiNode;
  const clients = () => [a, b].flatMap((n) => [n.ctx.redis!.client, n.ctx.redis!.pub, n.ctx.redis!.sub]);

  before(async function () {
    if (!redisUrl) return this.skip();
    const target = new URL(redisUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    const env = { REDIS_URL: proxy.url, REDIS_KEY_PREFIX: `test_${testState.runId}_outage`, RATE_LIMIT_USER_PER_MINUTE: String(USER_LIMIT) };
    a = await startNode({ ...env, NODE_ID: 'outage-a' });
    b = await startNode({ ...env, NODE_ID: 'outage-b' });
    await Promise.all(clients().map(ready));
  });
  afterEach(async () => {
    closeAllSockets();
    if (proxy?.isCut()) {
      await proxy.restore();
      await Promise.all(clients().map(ready));
    }
  });
  after(async () => {
    await stopAllNodes();
    await proxy?.close();
  });

  // Resolves once every client has seen its connection drop.
  const cut = async () => {
    await proxy.cut();
    await Promise.all(clients().map((c) => (c.status === 'ready' ? new Promise((r) => c.once('close', r)) : undefined)));
  };

  it('documents resync as a server event of every namespace', async () => {
    const events = (await request(a, 'GET', '/openapi.json')).body['x-socket-io'] as { namespace: string; event: string; direction: string }[];
    const namespaces = [...new Set(events.map((e) => e.namespace))];
    expect(namespaces).to.include('notifications');
    for (const ns of namespaces) {
      expect(events.find((e) => e.namespace === ns && e.event === 'resync')?.direction, ns).to.equal('server-to-client');
    }
  });

  it(`answers rate-limited REST requests in < ${REST_BUDGET_MS} ms while Redis is down, and still limits them per node`, async () => {
    const u = await newUser(a);
    const me = () => timed(() => request(a, 'GET', '/auth/me', { token: u.accessToken }));
    // Counted in Redis, shared by the nodes.
    for (let i = 0; i < 5; i++) expect((await me()).res.status).to.equal(200);

    await cut();
    // Spread over ~1.5 s, so the requests meet ioredis in every state it goes through while it
    // retries (reconnecting, connecting, refused), when its offline queue used to hold them.
    const during: { status: number; ms: number }[] = [];
    for (let i = 0; i <= USER_LIMIT; i++) {
      const { res, ms } = await me();
      during.push({ status: res.status, ms });
      await sleep(70);
    }
    const slowest = Math.max(...during.map((r) => r.ms));
    expect(slowest, `slowest request during the outage: ${slowest.toFixed(1)} ms`).to.be.below(REST_BUDGET_MS);
    // The in-memory insurance counts from zero on this node: USER_LIMIT allowed, then refused.
    expect(during.map((r) => r.status)).to.deep.equal([...Array(USER_LIMIT).fill(200), 429]);
  });

  it('does not wait on presence during the outage, shows the notification on the same node at once, and on the other node after recovery', async () => {
    // onB: the user's only socket, on the node that did not make the notification.
    const far = await newUser(a);
    const onB = connectSocket(b, '/notifications', { token: far.accessToken });
    // onA: another user's socket on the node that makes it.
    const near = await newUser(a);
    const onA = connectSocket(a, '/notifications', { token: near.accessToken });
    await Promise.all([connected(onB), connected(onA)]);
    await waitUntil(() => a.realtime.port.hasLiveSocket(far.id));
    const seenOnB = followProtocol(onB);

    await cut();
    const started = performance.now();
    const result = await a.services.notifications.notify(far.id, { type: 'social.follow', category: 'social', title: '정전 중 팔로워' });
    const notifyMs = performance.now() - started;
    expect(notifyMs, `notify() took ${notifyMs.toFixed(0)} ms`).to.be.below(REST_BUDGET_MS * 3);
    // In doubt the user counts as offline (pushed to: here, no device is registered), and the doubt is recorded.
    expect(result.deliveries[0]).to.include({ channel: 'socket', outcome: 'skipped_offline' });
    expect(result.deliveries[0].detail).to.match(/^presence unknown, treated as offline: .*Redis/);
    expect(result.deliveries[1]).to.include({ channel: 'push', outcome: 'skipped_no_token' });

    // The same node's socket needs no bus, and does not wait for ioredis to give up publishing.
    const local = nextEvent(onA, 'notification');
    const localStarted = performance.now();
    const nearResult = await a.services.notifications.notify(near.id, { type: 'social.follow', category: 'social', title: '같은 노드' });
    expect(nearResult.deliveries[0]).to.deep.equal({ channel: 'socket', outcome: 'delivered' });
    expect((await local).notification.id).to.equal(nearResult.notification.id);
    expect(performance.now() - localStarted).to.be.below(REST_BUDGET_MS * 3);

    // Long enough for ioredis to have dropped a queued publish (maxRetriesPerRequest), as in a real outage.
    await sleep(1500);
    expect(seenOnB.has(result.notification.id)).to.equal(false);
    const resyncOnA = nextEvent(onA, 'resync');
    await proxy.restore();
    const restored = performance.now();
    await seenOnB.waitFor(result.notification.id, CATCH_UP_BUDGET_MS);
    const catchUpMs = performance.now() - restored;
    expect(catchUpMs, `reached the socket on the other node ${catchUpMs.toFixed(0)} ms after recovery`).to.be.below(CATCH_UP_BUDGET_MS);
    expect(seenOnB.resyncs).to.equal(1);
    expect(await resyncOnA).to.deep.equal({ reason: 'bus_recovered' });

    // And the bus carries live emits across nodes again.
    const live = nextEvent(onB, 'notification');
    const after = await a.services.notifications.notify(far.id, { type: 'social.follow', category: 'social', title: '복구 후' });
    expect(after.deliveries[0]).to.deep.equal({ channel: 'socket', outcome: 'delivered' });
    expect((await live).notification.id).to.equal(after.notification.id);
  });

  it('delivers live, after recovery, to a socket that connected while Redis was down', async () => {
    const u = await newUser(a);
    await cut();
    // Its user's room is created on node B while the subscriber cannot subscribe to its channel.
    const late = connectSocket(b, '/notifications', { token: u.accessToken });
    await connected(late);
    // Long enough for ioredis to give up on a command that is subject to maxRetriesPerRequest.
    await sleep(1500);
    const resynced = nextEvent(late, 'resync');
    await proxy.restore();
    await Promise.all([resynced, ...clients().map(ready)]);
    await waitUntil(() => a.realtime.port.hasLiveSocket(u.id));
    const live = nextEvent(late, 'notification');
    const made = await a.services.notifications.notify(u.id, { type: 'social.follow', category: 'social', title: '늦게 온 소켓' });
    const event = await Promise.race([live, sleep(3000).then(() => undefined)]);
    expect(event?.notification.id, 'the live notification on node B').to.equal(made.notification.id);
  });
  it('refuses on every node, once the bus is back, an access token signed out during the outage', async () => {
    const u = await newUser(a);
    // Node B holds the session as live in its cache.
    expect((await request(b, 'GET', '/auth/me', { token: u.accessToken })).status).to.equal(200);
    await cut();
    // The sign-out is stored; its invalidation cannot reach node B.
    expect((await request(a, 'POST', '/auth/logout', { token: u.accessToken })).status).to.equal(204);
    await proxy.restore();
    await Promise.all(clients().map(ready));
    let status = 200;
    const restoredAt = Date.now();
    while (status === 200 && Date.now() - restoredAt < 5000) {
      status = (await request(b, 'GET', '/auth/me', { token: u.accessToken })).status;
      if (status === 200) await sleep(50);
    }
    expect(status).to.equal(401);
  });
});

describe('platform: presence when a node does not answer', function () {
  let node: ApiNode;
  let leaving: Redis;
  const lines: { level: number; msg: string; err?: unknown; userId?: string }[] = [];

  before(async function () {
    if (!redisUrl) return this.skip();
    const prefix = `test_${testState.runId}_leaving`;
    const destination = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const line of chunk.toString('utf8').split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const logger = createLogger({ level: 'warn', pretty: false, nodeId: 'presence', destination });
    node = await startApiNode(testConfig({ REDIS_URL: redisUrl, REDIS_KEY_PREFIX: prefix, NODE_ID: 'presence' }), { modules: testModules, logger });
    // A node on its way out: still subscribed to the namespace's channel (so it is counted), no
    // longer answering requests.
    leaving = new Redis(redisUrl);
    await leaving.ssubscribe(`${prefix}:socket.io#/notifications#`);
  });
  after(async () => {
    await leaving?.quit();
    await node?.shutdown('test done');
  });

  it(`gives up within ${PRESENCE_TIMEOUT_MS} ms, treats the user as offline, and logs why`, async () => {
    const u = await newUser(node);
    const started = performance.now();
    const result = await node.services.notifications.notify(u.id, { type: 'social.follow', category: 'social', title: '떠나는 노드' });
    const ms = performance.now() - started;
    expect(ms, `notify() took ${ms.toFixed(0)} ms`).to.be.below(PRESENCE_TIMEOUT_MS + 500);
    expect(result.deliveries[0].detail).to.equal(`presence unknown, treated as offline: not every node answered within ${PRESENCE_TIMEOUT_MS} ms`);
    const logged = lines.find((l) => l.userId === u.id && l.msg.startsWith('could not tell whether the user is online'));
    expect(logged, 'a warning for this notify()').to.not.equal(undefined);
    expect(logged!.err).to.equal(`not every node answered within ${PRESENCE_TIMEOUT_MS} ms`);
  });
});

describe('platform: the invalidation bus across a Redis outage', function () {
  let proxy: TcpProxy;
  let client: Redis;
  let direct: Redis;
  before(async function () {
    if (!redisUrl) return this.skip();
    const target = new URL(redisUrl);
    proxy = await startTcpProxy({ host: target.hostname, port: Number(target.port || 6379) });
    client = new Redis(proxy.url, { maxRetriesPerRequest: 2 });
    client.on('error', () => undefined);
    direct = new Redis(redisUrl);
  });
  after(async () => {
    client?.disconnect();
    await direct?.quit();
    await proxy?.close();
  });

  it('hears other nodes once Redis is back, even for a topic subscribed while it was down (a node that started then)', async () => {
    await proxy.cut();
    const prefix = `test_${testState.runId}_bus`;
    const bus = createRedisInvalidationBus({ client, prefix, logger: createLogger({ level: 'silent', pretty: false, nodeId: 'bus' }) });
    const heard: string[] = [];
    bus.subscribe('user', (key) => heard.push(key));
    // Long enough for ioredis to give up on a command that is subject to maxRetriesPerRequest.
    await sleep(1500);
    await proxy.restore();
    // Another node's invalidation, published straight to Redis, until this bus has subscribed.
    for (let i = 0; i < 100 && !heard.includes('u-1'); i++) {
      await direct.publish(`${prefix}:invalidate:user`, 'u-1');
      await sleep(50);
    }
    expect(heard).to.include('u-1');
    await bus.close();
  });
});

// What a client does by the protocol: keep the last id it saw; on `resync`, ask notifications.sync
// for everything after it (page by page while hasMore).
function followProtocol(socket: Socket) {
  const seen = new Set<string>();
  let lastId: string | undefined;
  const waiters: (() => void)[] = [];
  const saw = (id: string) => {
    seen.add(id);
    if (!lastId || BigInt(id) > BigInt(lastId)) lastId = id;
    for (const w of waiters.splice(0)) w();
  };
  const state = {
    resyncs: 0,
    has: (id: string) => seen.has(id),
    waitFor: (id: string, ms: number) => new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`notification ${id} did not reach the socket within ${ms} ms`)), ms);
      const check = () => {
        if (seen.has(id)) {
          clearTimeout(timer);
          resolve();
        } else waiters.push(check);
      };
      check();
    }),
  };
  socket.on('notification', (e: { notification: { id: string } }) => saw(e.notification.id));
  socket.on('resync', async () => {
    state.resyncs++;
    let page: { items: { id: string }[]; hasMore: boolean };
    do {
      page = await socket.emitWithAck('notifications.sync', lastId ? { after: lastId } : {});
      for (const n of page.items) saw(n.id);
    } while (page.hasMore);
  });
  return state;
}

function ready(client: Redis): Promise<void> {
  return client.status === 'ready' ? Promise.resolve() : new Promise((resolve) => client.once('ready', () => resolve()));
}

async function timed<T>(fn: () => Promise<T>): Promise<{ res: T; ms: number }> {
  const started = performance.now();
  const res = await fn();
  return { res, ms: performance.now() - started };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition never held');
}
