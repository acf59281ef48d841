import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { closeAllSockets, connectSocket, connected, newUser, nextEvent, redisUrl, request, startNode, stopAllNodes } from '../helpers.ts';
import { startFakeFcm, type FakeFcm } from '../fakes/fcm.ts';

describe('notifications: across two nodes through Redis', function () {
  let a: ApiNode;
  let b: ApiNode;
  let fcm: FakeFcm;
  before(async function () {
    if (!redisUrl) return this.skip();
    fcm = await startFakeFcm();
    a = await startNode({ ...fcm.env, REDIS_URL: redisUrl, NODE_ID: 'notify-a' });
    b = await startNode({ ...fcm.env, REDIS_URL: redisUrl, NODE_ID: 'notify-b' });
  });
  afterEach(closeAllSockets);
  after(async () => {
    await stopAllNodes();
    await fcm?.close();
  });

  it('delivers a notification made on node A to the socket on node B with the unread count, and does not push', async () => {
    const u = await newUser(a);
    const token = `cluster-device-${Date.now()}-${'z'.repeat(40)}`;
    await request(a, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'fcm', token } });
    const socket = connectSocket(b, '/notifications', { token: u.accessToken });
    await connected(socket);
    await waitUntilVisible(a, u.id);
    const received = nextEvent(socket, 'notification');
    const result = await a.services.notifications.notify(u.id, { type: 'chat.reply', category: 'chat', title: '루나', body: '안녕!' });
    const event = await received;
    expect(event).to.deep.equal({ notification: result.notification, unreadCount: 1 });
    expect(result.deliveries).to.deep.equal([{ channel: 'socket', outcome: 'delivered' }, { channel: 'push', outcome: 'skipped_online' }]);
    expect(fcm.sent.filter((s) => s.token === token)).to.have.length(0);
  });

  it('pushes once the user\'s last socket anywhere has gone', async () => {
    const u = await newUser(a);
    const token = `cluster-device-${Date.now()}-${'w'.repeat(40)}`;
    await request(a, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'fcm', token } });
    const socket = connectSocket(b, '/notifications', { token: u.accessToken });
    await connected(socket);
    const gone = nextEvent(socket, 'disconnect');
    socket.close();
    await gone;
    await waitUntil(async () => !(await a.realtime.port.hasLiveSocket(u.id)));
    const result = await a.services.notifications.notify(u.id, { type: 'chat.reply', category: 'chat', title: '루나', body: '어디 갔어?' });
    expect(result.deliveries.map((d) => `${d.channel}:${d.outcome}`)).to.deep.equal(['socket:skipped_offline', 'push:sent']);
    expect(fcm.sent.filter((s) => s.token === token)).to.have.length(1);
  });

  it('lets a socket that reconnects to the other node sync what it missed, and shares read state', async () => {
    const u = await newUser(a);
    const onA = connectSocket(a, '/notifications', { token: u.accessToken });
    await connected(onA);
    const first = nextEvent(onA, 'notification');
    await b.services.notifications.notify(u.id, { type: 'walk.badge', category: 'walk', title: '첫 산책' });
    const lastSeen = (await first).notification.id;
    onA.close();
    await b.services.notifications.notify(u.id, { type: 'walk.badge', category: 'walk', title: '10 km' });
    const onB = connectSocket(b, '/notifications', { token: u.accessToken });
    await connected(onB);
    const synced = await onB.emitWithAck('notifications.sync', { after: lastSeen });
    expect(synced.items.map((n: { title: string }) => n.title)).to.deep.equal(['10 km']);
    expect(synced.unreadCount).to.equal(2);
    await waitUntilVisible(a, u.id);
    const readEvent = nextEvent(onB, 'notification.read');
    const res = await request(a, 'POST', '/notifications/read-all', { token: u.accessToken });
    expect(res.body).to.deep.equal({ updated: 2, unreadCount: 0 });
    expect(await readEvent).to.deep.equal({ ids: [], all: true, unreadCount: 0 });
  });
});

// The sharded adapter subscribes to a room's channel asynchronously after the join.
async function waitUntilVisible(node: ApiNode, userId: string): Promise<void> {
  await waitUntil(() => node.realtime.port.hasLiveSocket(userId));
}

async function waitUntil(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200; i++) {
    if (await condition()) return;
    await new Promise((r) => setImmediate(r));
  }
  throw new Error('condition never held');
}
