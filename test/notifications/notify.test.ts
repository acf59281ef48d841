import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { closeAllSockets, connectSocket, connected, newUser, nextEvent, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { startFakeFcm, type FakeFcm } from '../fakes/fcm.ts';
import { createTestClock } from '../../services/time.ts';

describe('notifications: notify() on one node, push through the real FCM client', () => {
  let node: ApiNode;
  let fcm: FakeFcm;
  // The node reads quiet hours on this clock: 2026-11-22 22:30 in New York, 2026-11-23 12:30 in Seoul.
  const clock = createTestClock('2026-11-23T03:30:00Z');
  before(async () => {
    fcm = await startFakeFcm();
    node = await startNode({ ...fcm.env, NOTIFY_PUSH_PER_TYPE_PER_HOUR: '2' }, clock);
  });
  afterEach(closeAllSockets);
  after(async () => {
    await stopAllNodes();
    await fcm.close();
  });

  const notify = (u: { id: string }, input: Partial<Parameters<ApiNode['services']['notifications']['notify']>[1]> = {}) =>
    node.services.notifications.notify(u.id, { type: 'social.follow', category: 'social', title: '새 팔로워', body: '초코 아빠님이 팔로우했어요', ...input });
  let tokenCounter = 0;
  const registerToken = async (u: TestUser) => {
    const token = `fcm-token-${Date.now().toString(36)}-${++tokenCounter}-${'x'.repeat(40)}`;
    const res = await request(node, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'fcm', token } });
    expect(res.status).to.equal(201);
    return token;
  };
  const pushOutcomes = (r: { deliveries: { channel: string; outcome: string }[] }) => r.deliveries.filter((d) => d.channel === 'push').map((d) => d.outcome);
  const storedDeliveries = async (notificationId: string) =>
    node.ctx.db.orm.em.fork().execute<{ channel: string; outcome: string; detail: string | null }[]>(
      'select channel, outcome, detail from notification_deliveries where notification_id = ? order by id', [notificationId]);

  it('shows the notification on the user\'s socket with the unread count, and pushes nothing while it is connected', async () => {
    const u = await newUser(node);
    await registerToken(u);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const received = nextEvent(socket, 'notification');
    const sendsBefore = fcm.sendRequests;
    const result = await notify(u, { data: { followerId: 'u-42' } });
    const event = await received;
    expect(event.unreadCount).to.equal(1);
    expect(event.notification).to.include({ id: result.notification.id, type: 'social.follow', category: 'social', title: '새 팔로워', readAt: null });
    expect(event.notification.data).to.deep.equal({ followerId: 'u-42' });
    expect(event.notification.createdAt).to.match(/\+09:00$/);
    expect(result.deliveries).to.deep.equal([{ channel: 'socket', outcome: 'delivered' }, { channel: 'push', outcome: 'skipped_online' }]);
    expect(fcm.sendRequests).to.equal(sendsBefore);
    expect((await storedDeliveries(result.notification.id)).map((d) => `${d.channel}:${d.outcome}`)).to.deep.equal(['socket:delivered', 'push:skipped_online']);
  });

  it('pushes to an offline user through FCM after the OAuth exchange, and reuses the access token', async () => {
    const u = await newUser(node);
    const token = await registerToken(u);
    const tokenRequestsBefore = fcm.tokenRequests;
    const first = await notify(u, { type: 'chat.reply', category: 'chat', title: '루나', body: '오늘 어땠어?', data: { characterId: 'luna' } });
    expect(pushOutcomes(first)).to.deep.equal(['sent']);
    expect(first.deliveries[0]).to.deep.equal({ channel: 'socket', outcome: 'skipped_offline' });
    const pushed = fcm.sent.filter((s) => s.token === token);
    expect(pushed).to.have.length(1);
    expect(pushed[0].message.notification).to.deep.equal({ title: '루나', body: '오늘 어땠어?' });
    expect(pushed[0].message.data).to.deep.equal({ notificationId: first.notification.id, type: 'chat.reply', category: 'chat', payload: '{"characterId":"luna"}' });
    // The assertion the fake verified with the service account's public key.
    const assertion = fcm.assertions[fcm.assertions.length - 1];
    expect(assertion).to.include({ iss: fcm.serviceAccount.client_email, scope: 'https://www.googleapis.com/auth/firebase.messaging' });
    const second = await notify(u, { type: 'chat.reply', category: 'chat', title: '루나', body: '또 왔어' });
    expect(pushOutcomes(second)).to.deep.equal(['sent']);
    expect(fcm.tokenRequests - tokenRequestsBefore).to.be.at.most(1);
    const detail = (await storedDeliveries(second.notification.id)).find((d) => d.channel === 'push')!.detail;
    expect(detail).to.match(/projects\/fake-project\/messages\//);
  });

  it('retries a 503 from FCM with backoff and then delivers', async () => {
    const u = await newUser(node);
    const token = await registerToken(u);
    fcm.failNext(2);
    const before = fcm.sendRequests;
    const result = await notify(u);
    expect(pushOutcomes(result)).to.deep.equal(['sent']);
    expect(fcm.sendRequests - before).to.equal(3);
    expect(fcm.sent.some((s) => s.token === token)).to.equal(true);
  });

  it('fetches a new access token when FCM refuses the cached one', async () => {
    const u = await newUser(node);
    await registerToken(u);
    await notify(u);
    const tokenRequests = fcm.tokenRequests;
    fcm.revokeAccessTokens();
    const result = await notify(u, { type: 'social.like', title: '좋아요' });
    expect(pushOutcomes(result)).to.deep.equal(['sent']);
    expect(fcm.tokenRequests).to.equal(tokenRequests + 1);
  });

  it('skips the push, and records why, when the category is off', async () => {
    const u = await newUser(node);
    await registerToken(u);
    const off = await request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body: { categories: { social: false } } });
    expect(off.status).to.equal(200);
    const social = await notify(u);
    expect(pushOutcomes(social)).to.deep.equal(['skipped_category_off']);
    // Marketing is off until the user opts in.
    const marketing = await notify(u, { type: 'marketing.promo', category: 'marketing', title: '이번 주 혜택' });
    expect(pushOutcomes(marketing)).to.deep.equal(['skipped_category_off']);
    const stored = await storedDeliveries(marketing.notification.id);
    expect(stored.find((d) => d.channel === 'push')).to.include({ outcome: 'skipped_category_off', detail: 'marketing' });
    // The inbox still has both.
    const inbox = await request(node, 'GET', '/notifications', { token: u.accessToken });
    expect(inbox.body.items).to.have.length(2);
  });

  it('skips the push during quiet hours in the user\'s own zone', async () => {
    const u = await newUser(node);
    await registerToken(u);
    const zone = 'America/New_York';
    const window = { start: '22:00', end: '07:00' };
    clock.set('2026-11-23T03:30:00Z'); // 22:30 in New York
    const set = await request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body: { quietHours: window, timeZone: zone } });
    expect(set.status).to.equal(200);
    expect(set.body).to.deep.include({ quietHours: window, timeZone: zone });
    const result = await notify(u);
    expect(pushOutcomes(result)).to.deep.equal(['skipped_quiet_hours']);
    expect((await storedDeliveries(result.notification.id)).find((d) => d.channel === 'push')).to.include({ detail: '22:00-07:00 America/New_York' });
    // The same wall-clock window in a zone where it is not night (12:30 in Seoul) lets the push through.
    const elsewhere = await request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body: { timeZone: 'Asia/Seoul' } });
    expect(elsewhere.status).to.equal(200);
    expect(pushOutcomes(await notify(u, { type: 'social.like', title: '좋아요' }))).to.deep.equal(['sent']);
    // Back in New York, the window ends at 07:00: 06:59 is quiet, 07:00 is not.
    await request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body: { timeZone: zone } });
    clock.set('2026-11-23T11:59:00Z');
    expect(pushOutcomes(await notify(u, { type: 'social.comment', title: '댓글' }))).to.deep.equal(['skipped_quiet_hours']);
    clock.advance(60_000);
    expect(pushOutcomes(await notify(u, { type: 'social.mention', title: '멘션' }))).to.deep.equal(['sent']);
  });

  it('limits pushes per user and type per hour, and records the skip', async () => {
    const u = await newUser(node);
    await registerToken(u);
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push(pushOutcomes(await notify(u, { type: 'walk.nearby', category: 'walk', title: `근처 산책 ${i}` }))[0]);
    expect(outcomes).to.deep.equal(['sent', 'sent', 'skipped_rate_limited']);
    // Another type has its own budget.
    expect(pushOutcomes(await notify(u, { type: 'walk.badge', category: 'walk', title: '배지 획득' }))).to.deep.equal(['sent']);
  });

  it('deletes tokens FCM reports unregistered or invalid, and keeps the good one', async () => {
    const u = await newUser(node);
    const good = await registerToken(u);
    const gone = await registerToken(u);
    const bogus = await registerToken(u);
    fcm.unregister(gone);
    fcm.invalidate(bogus);
    const result = await notify(u);
    expect(pushOutcomes(result).sort()).to.deep.equal(['sent', 'token_unregistered', 'token_unregistered']);
    const left = await node.ctx.db.orm.em.fork().execute<{ token: string }[]>('select token from push_tokens where user_id = ?', [u.id]);
    expect(left.map((r) => r.token)).to.deep.equal([good]);
    const details = (await storedDeliveries(result.notification.id)).filter((d) => d.outcome === 'token_unregistered').map((d) => d.detail);
    expect(details.join(' ')).to.match(/UNREGISTERED/).and.to.match(/INVALID_ARGUMENT/);
  });

  it('records that there was no device to push to', async () => {
    const u = await newUser(node);
    expect(pushOutcomes(await notify(u))).to.deep.equal(['skipped_no_token']);
  });

  it('notifies once for a dedupe key, even when two calls race', async () => {
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const events: string[] = [];
    socket.on('notification', (e: { notification: { title: string } }) => events.push(e.notification.title));
    const input = { type: 'walk.friend_started', category: 'walk' as const, title: '친구가 산책을 시작했어요', dedupeKey: 'walk:123:started' };
    const [a, b] = await Promise.all([notify(u, input), notify(u, input)]);
    expect([a.created, b.created].sort()).to.deep.equal([false, true]);
    expect(a.notification.id).to.equal(b.notification.id);
    expect((await notify(u, input)).created).to.equal(false);
    // A later, different notification arrives after any duplicate would have.
    const marker = nextEvent(socket, 'notification');
    await notify(u, { title: 'marker' });
    await marker;
    expect(events).to.deep.equal(['친구가 산책을 시작했어요', 'marker']);
    const rows = await node.ctx.db.orm.em.fork().execute('select id from notifications where user_id = ? and dedupe_key = ?', [u.id, input.dedupeKey]);
    expect(rows).to.have.length(1);
  });

  it('refuses a malformed notify() call with the field named', async () => {
    const u = await newUser(node);
    try {
      await notify(u, { category: 'gossip' as never, title: '' });
      expect.fail('accepted');
    } catch (err) {
      expect((err as { code: string }).code).to.equal('validation_failed');
      expect((err as { issues: { field: string }[] }).issues.map((i) => i.field)).to.include('category').and.to.include('title');
    }
  });

  it('answers notifications.sync after a reconnect with what the socket missed, oldest first', async () => {
    const u = await newUser(node);
    const first = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(first);
    const seen = nextEvent(first, 'notification');
    await notify(u, { title: 'one' });
    const lastSeen = (await seen).notification.id;
    const gone = nextEvent(first, 'disconnect');
    first.close();
    await gone;
    await notify(u, { title: 'two' });
    await notify(u, { title: 'three' });
    const again = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(again);
    const ack = await again.emitWithAck('notifications.sync', { after: lastSeen });
    expect(ack.ok).to.equal(true);
    expect(ack.items.map((n: { title: string }) => n.title)).to.deep.equal(['two', 'three']);
    expect(ack).to.include({ unreadCount: 3, hasMore: false });
    const paged = await again.emitWithAck('notifications.sync', { after: lastSeen, limit: 1 });
    expect(paged.items.map((n: { title: string }) => n.title)).to.deep.equal(['two']);
    expect(paged.hasMore).to.equal(true);
    const bad = await again.emitWithAck('notifications.sync', { after: 'abc' });
    expect(bad.ok).to.equal(false);
    expect(bad.error.code).to.equal('validation_failed');
    expect(bad.error.message).to.match(/after/);
  });
});

describe('notifications: offline push driver', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  it('writes the push to offline_outbox with the token masked and says it is offline', async () => {
    expect(node.ctx.push.offline).to.equal(true);
    const u = await newUser(node);
    const token = `offline-device-token-${'y'.repeat(40)}-end1`;
    expect((await request(node, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'apns', token } })).status).to.equal(201);
    const result = await node.services.notifications.notify(u.id, { type: 'payment.done', category: 'payment', title: '결제 완료', body: '4,900원' });
    const push = result.deliveries.find((d) => d.channel === 'push')!;
    expect(push.outcome).to.equal('sent');
    expect(push.detail).to.match(/OFFLINE offline-outbox-\d+/);
    const id = push.detail!.match(/offline-outbox-(\d+)/)![1];
    const [row] = await node.ctx.db.orm.em.fork().execute<{ channel: string; payload: Record<string, unknown> }[]>('select channel, payload from offline_outbox where id = ?', [id]);
    expect(row.channel).to.equal('push');
    expect(row.payload).to.include({ offline: true, title: '결제 완료', tokenHint: 'offlin…end1' });
    expect(JSON.stringify(row.payload)).to.not.include(token);
  });
});
