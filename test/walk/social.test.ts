// Walk II's social side: follows with their lists, the feed of followed walkers' trusted walks,
// likes and comments on walks (the platform's social service), blocking, friend recommendations.
import { expect } from 'chai';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { createTestClock } from '../../services/time.ts';
import { closeAllSockets, connectSocket, connected, newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { walk } from '../tracks.ts';

const DAY = 86_400_000;
const MONDAY = Date.parse('2026-11-23T07:00:00+09:00');

describe('walk: follows, feed, likes and comments, blocking, recommendations', function () {
  this.timeout(30_000);
  const clock = createTestClock('2026-11-27T20:00:00+09:00');
  let node: ApiNode;
  before(async () => {
    node = await startNode({}, clock);
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  const db = () => node.ctx.db.orm.em.fork();
  const as = (u: TestUser) => ({
    get: (path: string) => request(node, 'GET', path, { token: u.accessToken }),
    post: (path: string, body?: unknown) => request(node, 'POST', path, { token: u.accessToken, body }),
    del: (path: string) => request(node, 'DELETE', path, { token: u.accessToken }),
    put: (path: string, body?: unknown) => request(node, 'PUT', path, { token: u.accessToken, body }),
  });
  let seq = 0;
  const walkOf = async (u: TestUser, day: number, distanceM = 2000, speedKmh = 5, hourShift = 0) => {
    const res = await as(u).post('/walks', { clientWalkId: `s-${++seq}`, points: walk({ distanceM, speedKmh, seed: 500 + seq, t0: MONDAY + day * DAY + hourShift * 3600_000 }) });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { id: string; trusted: boolean };
  };
  const notices = async (userId: string, type: string) => (await db().execute<{ n: string }[]>(`select count(*) as n from notifications where user_id = ? and type = ?`, [userId, type]))[0].n;

  it('follows both ways, lists followers and following by cursor, and tells the followed once', async () => {
    const [a, b, c] = [await newUser(node), await newUser(node), await newUser(node)];
    expect((await as(a).post(`/walk/users/${b.id}/follow`)).body).to.deep.equal({ following: true });
    expect((await as(a).post(`/walk/users/${b.id}/follow`)).status, 'twice is once').to.equal(200);
    await as(b).post(`/walk/users/${a.id}/follow`);
    await as(c).post(`/walk/users/${b.id}/follow`);
    expect((await as(a).post(`/walk/users/${a.id}/follow`)).body.code).to.equal('self_follow');
    const first = await as(a).get(`/walk/users/${b.id}/followers?limit=1`);
    expect(first.body.items.map((w: { userId: string }) => w.userId)).to.deep.equal([c.id]);
    const second = await as(a).get(`/walk/users/${b.id}/followers?limit=1&cursor=${first.body.nextCursor}`);
    expect(second.body.items.map((w: { userId: string }) => w.userId)).to.deep.equal([a.id]);
    expect((await as(a).get(`/walk/users/${a.id}/following`)).body.items.map((w: { userId: string }) => w.userId)).to.deep.equal([b.id]);
    await new Promise((r) => setTimeout(r, 200));
    expect(await notices(b.id, 'walk.new_follower')).to.equal('2');
    await as(a).del(`/walk/users/${b.id}/follow`);
    expect((await as(a).get(`/walk/users/${a.id}/following`)).body.items).to.deep.equal([]);
    expect((await as(a).get('/walk/users/not-a-uuid/followers')).body.errors[0].field).to.equal('id');
  });

  it('feeds me the trusted walks of the walkers I follow and mine, ordered by recency, engagement and distance, by cursor', async () => {
    const [me, friend, stranger] = [await newUser(node), await newUser(node), await newUser(node)];
    await as(me).post(`/walk/users/${friend.id}/follow`);
    const older = await walkOf(friend, 0);
    const newer = await walkOf(friend, 0.25); // six hours later
    const mine = await walkOf(me, 2);
    const flagged = await walkOf(friend, 3, 4000, 40);
    expect(flagged.trusted).to.equal(false);
    await walkOf(stranger, 3);
    const ids = async (path = '/walk/feed') => (await as(me).get(path)).body.items.map((i: { walkId: string }) => i.walkId);
    expect(await ids()).to.deep.equal([mine.id, newer.id, older.id]);
    // Ten likes (6 · ln 11 ≈ 14 hours) lift the older walk above the one six hours newer, not above mine two days newer.
    const likers = await Promise.all(Array.from({ length: 10 }, () => newUser(node)));
    for (const l of likers) expect((await as(l).post(`/walks/${older.id}/like`)).body.likeCount).to.be.a('number');
    expect(await ids()).to.deep.equal([mine.id, older.id, newer.id]);
    const page1 = await as(me).get('/walk/feed?limit=2');
    const page2 = await as(me).get(`/walk/feed?limit=2&cursor=${page1.body.nextCursor}`);
    expect([...page1.body.items, ...page2.body.items].map((i: { walkId: string }) => i.walkId)).to.deep.equal(await ids());
    expect(page1.body.items[1]).to.include({ walkId: older.id, likes: 10, likedByMe: false });
    expect((await as(me).get('/walk/feed?cursor=garbage')).body.code).to.equal('invalid_cursor');
    // Both plans give the same rows in the same order, page by page.
    const { social } = moduleServices(node.services, walkModule);
    for (const cursor of [undefined, page1.body.nextCursor]) {
      const global = await social.feed(me.id, { limit: 2, cursor, plan: 'global' });
      const perFollowee = await social.feed(me.id, { limit: 2, cursor, plan: 'per_followee' });
      expect(global).to.deep.equal(perFollowee);
    }
  });

  it('likes and comments on walks, tells the walker, and keeps others\' flagged walks out of reach', async () => {
    const [owner, fan] = [await newUser(node), await newUser(node)];
    const w = await walkOf(owner, 0);
    const liked = await as(fan).post(`/walks/${w.id}/like`);
    expect(liked.body).to.include({ liked: true, likeCount: 1 });
    const comment = await as(fan).post(`/walks/${w.id}/comments`, { body: '멋진 산책이에요!' });
    expect(comment.status).to.equal(201);
    expect((await as(fan).put(`/walk-comments/${comment.body.id}`, { body: '정말 멋져요' })).body.edited).to.equal(true);
    expect((await as(owner).get(`/walks/${w.id}/comments`)).body.items[0].body).to.equal('정말 멋져요');
    const [{ like_count, comment_count }] = await db().execute<{ like_count: number; comment_count: number }[]>('select like_count, comment_count from walks where id = ?', [w.id]);
    expect([like_count, comment_count]).to.deep.equal([1, 1]);
    await new Promise((r) => setTimeout(r, 200));
    const reactions = await db().execute<{ action: string }[]>(`select data->>'action' as action from notifications where user_id = ? and type = 'walk.reaction' order by id`, [owner.id]);
    expect(reactions.map((r) => r.action).sort()).to.deep.equal(['commented', 'liked']);
    const flagged = await walkOf(owner, 1, 4000, 40);
    expect((await as(fan).post(`/walks/${flagged.id}/like`)).status).to.equal(404);
    expect((await as(owner).post(`/walks/${flagged.id}/like`)).status, 'your own flagged walk').to.equal(200);
  });

  it('blocks: the blocked walker sees nothing of the blocker and cannot follow, like, comment on or invite them', async () => {
    const [blocker, blocked, third] = [await newUser(node), await newUser(node), await newUser(node)];
    await as(blocked).post(`/walk/users/${blocker.id}/follow`);
    await as(blocker).post(`/walk/users/${blocked.id}/follow`);
    await as(third).post(`/walk/users/${blocker.id}/follow`);
    const w = await walkOf(blocker, 0);
    expect((await as(blocked).get(`/walks/${w.id}`)).status).to.equal(200);
    expect((await as(blocker).post(`/walk/users/${blocked.id}/block`)).body).to.deep.equal({ blocked: true });

    const them = as(blocked);
    expect((await them.get(`/walk/users/${blocker.id}`)).status).to.equal(404);
    expect((await them.get(`/walks/${w.id}`)).status).to.equal(404);
    expect((await them.post(`/walks/${w.id}/like`)).status).to.equal(404);
    expect((await them.post(`/walks/${w.id}/comments`, { body: 'hi' })).status).to.equal(404);
    expect((await them.post(`/walk/users/${blocker.id}/follow`)).status).to.equal(404);
    expect((await them.get(`/walk/users/${blocker.id}/followers`)).status).to.equal(404);
    expect((await them.get(`/walk/users/${third.id}/following`)).body.items.map((x: { userId: string }) => x.userId)).to.not.include(blocker.id);
    expect((await them.get('/walk/feed')).body.items.map((x: { walkId: string }) => x.walkId)).to.not.include(w.id);
    // Follows both ways ended.
    expect((await as(blocker).get(`/walk/users/${blocker.id}/followers`)).body.items.map((x: { userId: string }) => x.userId)).to.deep.equal([third.id]);
    expect((await as(blocker).get('/walk/blocks')).body.items.map((x: { userId: string }) => x.userId)).to.deep.equal([blocked.id]);
    // No walking together either: the blocker looks like no one.
    const socket = connectSocket(node, '/walk', { token: blocked.accessToken });
    await connected(socket);
    const invite = await socket.emitWithAck('session.create', { invitees: [blocker.id] });
    expect(invite.ok).to.equal(false);
    expect(invite.error.errors[0].field).to.equal('invitees');
    // Unblocked: visible again (follows do not come back).
    await as(blocker).del(`/walk/users/${blocked.id}/block`);
    expect((await them.get(`/walks/${w.id}`)).status).to.equal(200);
  });

  it('recommends walkers by mutual follows, region and usual walk time, never followed or blocked ones', async () => {
    const [me, friend, fof, neighbour, early, blockedOne] = await Promise.all(Array.from({ length: 6 }, () => newUser(node)));
    const region = `테스트구-${crypto.randomUUID().slice(0, 6)}`;
    for (const u of [me, neighbour, blockedOne]) await as(u).put('/walk/profile', { region });
    await as(me).post(`/walk/users/${friend.id}/follow`);
    await as(friend).post(`/walk/users/${fof.id}/follow`);
    await as(me).post(`/walk/users/${blockedOne.id}/block`);
    // Same usual hour for me and `early`: 03:00 KST, which no other walker of the test run keeps, so
    // the other runs' walkers (sharing this database) do not crowd `early` out of the top 20.
    await walkOf(me, 0, 2000, 5, -4);
    await walkOf(early, 1, 2000, 5, -4);
    const { social } = moduleServices(node.services, walkModule);
    const result = await social.recomputeRecommendations({ now: clock.now() });
    expect(result.users).to.be.at.least(6);
    const recs = (await as(me).get('/walk/recommendations')).body.items as { userId: string; reasons: { mutualFollows: number; sameRegion: boolean; similarWalkHours: boolean } }[];
    const byId = new Map(recs.map((r) => [r.userId, r.reasons]));
    expect(byId.get(fof.id)).to.deep.include({ mutualFollows: 1 });
    expect(byId.get(neighbour.id)).to.deep.include({ sameRegion: true });
    expect(byId.get(early.id)).to.deep.include({ similarWalkHours: true });
    expect(byId.has(friend.id), 'already followed').to.equal(false);
    expect(byId.has(blockedOne.id), 'blocked').to.equal(false);
    expect(byId.has(me.id)).to.equal(false);
    expect(recs[0].userId, 'mutual follows weigh most').to.equal(fof.id);
  });
});
