import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

describe('notifications: REST inbox, settings and push tokens', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  async function userWithNotifications(n: number): Promise<{ u: TestUser; ids: string[] }> {
    const u = await newUser(node);
    const ids: string[] = [];
    for (let i = 1; i <= n; i++) {
      ids.push((await node.services.notifications.notify(u.id, { type: 'social.like', category: 'social', title: `n${i}` })).notification.id);
    }
    return { u, ids };
  }
  const titles = (res: { body: { items: { title: string }[] } }) => res.body.items.map((n) => n.title);

  describe('GET /notifications', () => {
    it('pages newest first with an opaque cursor until the last page', async () => {
      const { u } = await userWithNotifications(5);
      const p1 = await request(node, 'GET', '/notifications?limit=2', { token: u.accessToken });
      expect(p1.status).to.equal(200);
      expect(titles(p1)).to.deep.equal(['n5', 'n4']);
      expect(p1.body).to.include({ hasMore: true, unreadCount: 5 });
      const p2 = await request(node, 'GET', `/notifications?limit=2&cursor=${p1.body.nextCursor}`, { token: u.accessToken });
      expect(titles(p2)).to.deep.equal(['n3', 'n2']);
      const p3 = await request(node, 'GET', `/notifications?limit=2&cursor=${p2.body.nextCursor}`, { token: u.accessToken });
      expect(titles(p3)).to.deep.equal(['n1']);
      expect(p3.body).to.include({ hasMore: false, nextCursor: null });
    });

    it('shows only the user\'s own notifications', async () => {
      await userWithNotifications(2);
      const other = await newUser(node);
      const res = await request(node, 'GET', '/notifications', { token: other.accessToken });
      expect(res.body).to.deep.equal({ items: [], nextCursor: null, hasMore: false, unreadCount: 0 });
    });

    it('filters unread, and syncs everything after an id oldest first', async () => {
      const { u, ids } = await userWithNotifications(5);
      expect((await request(node, 'PUT', `/notifications/${ids[1]}/read`, { token: u.accessToken })).status).to.equal(200);
      const unread = await request(node, 'GET', '/notifications?unread=true', { token: u.accessToken });
      expect(titles(unread)).to.deep.equal(['n5', 'n4', 'n3', 'n1']);
      expect(unread.body.unreadCount).to.equal(4);
      const after = await request(node, 'GET', `/notifications?after=${ids[1]}`, { token: u.accessToken });
      expect(titles(after)).to.deep.equal(['n3', 'n4', 'n5']);
      const afterPaged = await request(node, 'GET', `/notifications?after=${ids[1]}&limit=2`, { token: u.accessToken });
      expect(titles(afterPaged)).to.deep.equal(['n3', 'n4']);
      expect(afterPaged.body.hasMore).to.equal(true);
      const afterUnread = await request(node, 'GET', `/notifications?after=${ids[0]}&unread=true`, { token: u.accessToken });
      expect(titles(afterUnread)).to.deep.equal(['n3', 'n4', 'n5']);
    });

    it('answers a bad cursor, limit, after or both modes at once with 400 naming the field', async () => {
      const u = await newUser(node);
      const cases: [string, string][] = [
        ['/notifications?cursor=bm90LWEtY3Vyc29y', 'cursor'],
        ['/notifications?limit=0', 'limit'],
        ['/notifications?limit=500', 'limit'],
        ['/notifications?after=-1', 'after'],
        ['/notifications?unread=yes', 'unread'],
        ['/notifications?after=5&cursor=abc', 'after'],
      ];
      for (const [path, field] of cases) {
        const res = await request(node, 'GET', path, { token: u.accessToken });
        expect(res.status, path).to.equal(400);
        expect(res.body.errors.map((e: { field: string }) => e.field), path).to.include(field);
      }
    });

    it('needs a signed-in user', async () => {
      expect((await request(node, 'GET', '/notifications')).status).to.equal(401);
    });
  });

  describe('read state', () => {
    it('marks one read (idempotently) and answers 404 for someone else\'s', async () => {
      const { u, ids } = await userWithNotifications(2);
      const res = await request(node, 'PUT', `/notifications/${ids[0]}/read`, { token: u.accessToken });
      expect(res.status).to.equal(200);
      expect(res.body.unreadCount).to.equal(1);
      expect(res.body.notification.readAt).to.match(/\+09:00$/);
      const again = await request(node, 'PUT', `/notifications/${ids[0]}/read`, { token: u.accessToken });
      expect(again.body.notification.readAt).to.equal(res.body.notification.readAt);
      const stranger = await newUser(node);
      const theirs = await request(node, 'PUT', `/notifications/${ids[1]}/read`, { token: stranger.accessToken });
      expect(theirs.status).to.equal(404);
      expect((await request(node, 'PUT', '/notifications/abc/read', { token: u.accessToken })).status).to.equal(400);
    });

    it('marks everything read and returns the unread count', async () => {
      const { u } = await userWithNotifications(3);
      const res = await request(node, 'POST', '/notifications/read-all', { token: u.accessToken });
      expect(res.status).to.equal(200);
      expect(res.body).to.deep.equal({ updated: 3, unreadCount: 0 });
      expect((await request(node, 'GET', '/notifications?unread=true', { token: u.accessToken })).body.items).to.have.length(0);
    });
  });

  describe('settings', () => {
    it('starts from the defaults: everything on but marketing, no quiet hours, the server\'s zone', async () => {
      const u = await newUser(node);
      const res = await request(node, 'GET', '/notifications/settings', { token: u.accessToken });
      expect(res.status).to.equal(200);
      const { types, ...rest } = res.body;
      expect(rest).to.deep.equal({
        categories: { payment: true, social: true, chat: true, walk: true, marketing: false },
        quietHours: null, timeZone: 'Asia/Seoul', marketingConsentedAt: null, updatedAt: null,
      });
      // Every declared type outside system has its own switch, on (test/notifications/typeSwitches.test.ts).
      expect(types).to.include({ 'widgets.restocked': true });
      expect(Object.values(types).every((on) => on === true)).to.equal(true);
    });

    it('changes only the fields given, records marketing consent, and clears quiet hours with null', async () => {
      const u = await newUser(node);
      const put = (body: unknown) => request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body });
      const a = await put({ categories: { marketing: true, chat: false }, quietHours: { start: '22:30', end: '07:00' }, timeZone: 'asia/tokyo' });
      expect(a.status).to.equal(200);
      expect(a.body.categories).to.deep.equal({ payment: true, social: true, chat: false, walk: true, marketing: true });
      expect(a.body).to.include({ timeZone: 'Asia/Tokyo' });
      expect(a.body.quietHours).to.deep.equal({ start: '22:30', end: '07:00' });
      expect(a.body.marketingConsentedAt).to.be.a('string');
      const b = await put({ quietHours: null, categories: { marketing: false } });
      expect(b.body.quietHours).to.equal(null);
      expect(b.body.categories.chat).to.equal(false);
      expect(b.body.marketingConsentedAt).to.equal(null);
      expect((await request(node, 'GET', '/notifications/settings', { token: u.accessToken })).body).to.deep.equal(b.body);
    });

    it('answers bad settings with 400 naming each field', async () => {
      const u = await newUser(node);
      const cases: [unknown, string][] = [
        [{ quietHours: { start: '25:00', end: '07:00' } }, 'quietHours.start'],
        [{ quietHours: { start: '7:00', end: '08:00' } }, 'quietHours.start'],
        [{ quietHours: { start: '22:00', end: '22:00' } }, 'quietHours.end'],
        [{ quietHours: { start: '22:00' } }, 'quietHours.end'],
        [{ timeZone: 'Mars/Olympus_Mons' }, 'timeZone'],
        [{ categories: { payment: 'yes' } }, 'categories.payment'],
        [{ categories: { sms: true } }, 'categories'],
        [{}, 'body'],
      ];
      for (const [body, field] of cases) {
        const res = await request(node, 'PUT', '/notifications/settings', { token: u.accessToken, body });
        expect(res.status, JSON.stringify(body)).to.equal(400);
        expect(res.body.code).to.equal('validation_failed');
        expect(res.body.errors.map((e: { field: string }) => e.field), JSON.stringify(body)).to.include(field);
      }
    });
  });

  describe('push tokens', () => {
    const token = (tag: string) => `${tag}-${Date.now().toString(36)}-${'t'.repeat(40)}`;
    const tokensOf = (userId: string) =>
      node.ctx.db.orm.em.fork().execute<{ token: string; platform: string }[]>('select token, platform from push_tokens where user_id = ? order by id', [userId]);

    it('registers a token (201), refreshes it on repeat (200, same id), and moves it to the account that registers it', async () => {
      const u = await newUser(node);
      const t = token('device');
      const first = await request(node, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'fcm', token: t } });
      expect(first.status).to.equal(201);
      expect(first.body).to.have.keys('id', 'platform', 'createdAt', 'lastSeenAt');
      const again = await request(node, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'fcm', token: t } });
      expect(again.status).to.equal(200);
      expect(again.body.id).to.equal(first.body.id);
      const other = await newUser(node);
      const moved = await request(node, 'POST', '/push-tokens', { token: other.accessToken, body: { platform: 'fcm', token: t } });
      expect(moved.status).to.equal(200);
      expect(await tokensOf(u.id)).to.deep.equal([]);
      expect((await tokensOf(other.id)).map((r) => r.token)).to.deep.equal([t]);
    });

    it('deletes only the caller\'s own token', async () => {
      const owner = await newUser(node);
      const t = token('mine');
      await request(node, 'POST', '/push-tokens', { token: owner.accessToken, body: { platform: 'apns', token: t } });
      const intruder = await newUser(node);
      const refused = await request(node, 'DELETE', `/push-tokens/${t}`, { token: intruder.accessToken });
      expect(refused.status).to.equal(404);
      expect((await tokensOf(owner.id)).map((r) => r.token)).to.deep.equal([t]);
      expect((await request(node, 'DELETE', `/push-tokens/${t}`, { token: owner.accessToken })).status).to.equal(204);
      expect(await tokensOf(owner.id)).to.deep.equal([]);
      expect((await request(node, 'DELETE', `/push-tokens/${t}`, { token: owner.accessToken })).status).to.equal(404);
    });

    it('answers a bad platform or token with 400 naming the field', async () => {
      const u = await newUser(node);
      const bad = await request(node, 'POST', '/push-tokens', { token: u.accessToken, body: { platform: 'sms', token: 'short' } });
      expect(bad.status).to.equal(400);
      expect(bad.body.errors.map((e: { field: string }) => e.field)).to.include('platform').and.to.include('token');
    });
  });
});
