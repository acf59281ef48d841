import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { testState } from '../state.ts';
import { closeAllSockets, nextEvent, connectSocket, connected, newUser, redisUrl, request, startNode, stopAllNodes } from '../helpers.ts';

describe('realtime: two nodes through Redis', function () {
  let a: ApiNode;
  let b: ApiNode;
  before(async function () {
    if (!redisUrl) return this.skip();
    a = await startNode({ REDIS_URL: redisUrl, NODE_ID: 'node-a' });
    b = await startNode({ REDIS_URL: redisUrl, NODE_ID: 'node-b' });
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  it('delivers an emit made on node A to the user\'s socket on node B', async () => {
    const u = await newUser(a);
    const socket = connectSocket(b, '/notifications', { token: u.accessToken });
    await connected(socket);
    expect((await socket.emitWithAck('whoami', {})).node).to.equal('node-b');
    const received = nextEvent(socket, 'notification');
    // The sharded adapter subscribes to a room's channel asynchronously after the join.
    await waitUntilSubscribed(a, u.id);
    a.realtime.namespace('notifications')!.to(`user:${u.id}`).emit('notification', { id: 'n1', title: 'hello from A' });
    const payload = await received;
    expect(payload).to.deep.equal({ id: 'n1', title: 'hello from A' });
  });

  it('disconnects a disabled user\'s sockets on every node', async () => {
    const admin = await newUser(a);
    await a.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
    const adminToken = (await request(a, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } })).body.accessToken;
    const u = await newUser(a);
    const onA = connectSocket(a, '/notifications', { token: u.accessToken });
    const onB = connectSocket(b, '/notifications', { token: u.accessToken });
    await Promise.all([connected(onA), connected(onB)]);
    const gone = Promise.all([nextEvent(onA, 'disconnect'), nextEvent(onB, 'disconnect')]);
    const res = await request(a, 'PUT', `/admin/users/${u.id}/disabled`, { token: adminToken, body: { disabled: true } });
    expect(res.status).to.equal(200);
    const reasons = await gone;
    expect(reasons).to.deep.equal(['io server disconnect', 'io server disconnect']);
  });

  it('closes a signed-out session\'s socket on the other node', async () => {
    const u = await newUser(a);
    const onB = connectSocket(b, '/notifications', { token: u.accessToken });
    await connected(onB);
    const gone = nextEvent(onB, 'disconnect');
    expect((await request(a, 'POST', '/auth/logout', { token: u.accessToken })).status).to.equal(204);
    expect(await gone).to.equal('io server disconnect');
  });

  it('refuses a signed-out access token on every node within a second', async () => {
    const u = await newUser(a);
    // Both nodes have the session cached as live.
    for (const n of [a, b]) expect((await request(n, 'GET', '/auth/me', { token: u.accessToken })).status).to.equal(200);
    expect((await request(a, 'POST', '/auth/logout', { token: u.accessToken })).status).to.equal(204);
    const signedOutAt = Date.now();
    let status = 200;
    while (status === 200 && Date.now() - signedOutAt < 1000) status = (await request(b, 'GET', '/auth/me', { token: u.accessToken })).status;
    expect(status).to.equal(401);
  });

  it('invalidates the cached account on every node when it changes on one', async () => {
    const u = await newUser(a);
    // Node B caches the account on its first authenticated request.
    expect((await request(b, 'GET', '/auth/me', { token: u.accessToken })).body.displayName).to.equal(null);
    const renamed = await request(a, 'PATCH', '/auth/me', { token: u.accessToken, body: { displayName: '초코 아빠' } });
    expect(renamed.status).to.equal(200);
    // The invalidation travels through Redis pub/sub; B serves the new row as soon as it lands.
    let seen;
    for (let i = 0; i < 200; i++) {
      seen = (await request(b, 'GET', '/auth/me', { token: u.accessToken })).body.displayName;
      if (seen === '초코 아빠') break;
    }
    expect(seen).to.equal('초코 아빠');
  });

  it('shares rate limits between nodes through Redis', async () => {
    const limited = await startNode({ REDIS_URL: redisUrl!, RATE_LIMIT_AUTH_PER_MINUTE: '3', REDIS_KEY_PREFIX: `test_${testState.runId}_shared` });
    const peer = await startNode({ REDIS_URL: redisUrl!, RATE_LIMIT_AUTH_PER_MINUTE: '3', REDIS_KEY_PREFIX: limited.ctx.config.REDIS_KEY_PREFIX });
    const body = { email: 'nobody@example.com', password: 'whatever 12345' };
    const statuses = [];
    for (const n of [limited, peer, limited, peer]) statuses.push((await request(n, 'POST', '/auth/login', { body })).status);
    expect(statuses).to.deep.equal([401, 401, 401, 429]);
  });
});

// Polls the cluster until node A sees the socket on the other node: fetchSockets goes through Redis.
async function waitUntilSubscribed(node: ApiNode, userId: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const sockets = await node.realtime.namespace('notifications')!.in(`user:${userId}`).fetchSockets();
    if (sockets.length > 0) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('socket never became visible across the cluster');
}
