// Issue 14's "done when" as one story, on two API nodes sharing the database (and Redis when
// REDIS_URL is set), through the routes, the cron jobs and the wire-level fakes: two walkers follow
// each other, see each other's walks in the feed, like and comment, and get the pushes (offline
// outbox); one invites the other to a walk, which opens a walk-together session at its time even
// with both nodes running the cron job; they meet up at a meetup whose capacity holds under a race;
// one subscribes through Toss and is renewed by the cron a month later (charged once by two nodes),
// the other through a signed App Store notification; the weather answers from the cache, and
// "unavailable" with the last value when KMA is down. (Every push type, and each piece's edge cases,
// are in the other test/walk files.)
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { createFakeAppStore, type FakeAppStore } from '../fakes/appStore.ts';
import { startFakeAirKorea, type FakeAirKorea } from '../fakes/airkorea.ts';
import { startFakeKma, type FakeKma } from '../fakes/kma.ts';
import { startFakeToss, type FakeToss } from '../fakes/toss.ts';
import { newUser, request, runCronJob, settled, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { walk } from '../tracks.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
const TOSS_SECRET = 'test_sk_done_when';
const BUNDLE_ID = 'com.withbowwow.app';

describe('walk II, done when: follow, feed, react, push, invite, meet up, subscribe two ways, weather', function () {
  this.timeout(120_000);
  // Now, to the second: App Store certificates are made valid from the real now, and premium is read on this clock.
  const clock = createTestClock(Math.floor(Date.now() / 1000) * 1000);
  let toss: FakeToss;
  let apple: FakeAppStore;
  let kma: FakeKma;
  let air: FakeAirKorea;
  let one: ApiNode;
  let two: ApiNode;
  let dana: TestUser;
  let minho: TestUser;

  before(async () => {
    toss = await startFakeToss({ secretKey: TOSS_SECRET });
    apple = createFakeAppStore({ bundleId: BUNDLE_ID });
    [kma, air] = await Promise.all([startFakeKma({ serviceKey: 'kma-key' }), startFakeAirKorea({ serviceKey: 'air-key' })]);
    const env = {
      TOSS_SECRET_KEY: TOSS_SECRET, TOSS_CLIENT_KEY: 'test_ck_done_when', TOSS_BASE_URL: toss.url,
      WALK_APPLE_BUNDLE_ID: BUNDLE_ID, APPLE_ROOT_CA_PEM: apple.rootPem,
      KMA_SERVICE_KEY: 'kma-key', KMA_BASE_URL: kma.url, AIRKOREA_SERVICE_KEY: 'air-key', AIRKOREA_BASE_URL: air.url, WALK_OUTSIDE_TIMEOUT_MS: '500',
    };
    one = await startNode(env, clock);
    two = await startNode(env, clock);
    dana = await newUser(one);
    minho = await newUser(two);
  });
  after(async () => {
    await stopAllNodes();
    apple?.close();
    await Promise.all([toss?.close(), kma?.close(), air?.close()]);
  });

  const db = () => one.ctx.db.orm.em.fork();
  const as = (u: TestUser, node: ApiNode) => ({
    get: (path: string) => request(node, 'GET', path, { token: u.accessToken }),
    post: (path: string, body?: unknown) => request(node, 'POST', path, { token: u.accessToken, body }),
    put: (path: string, body?: unknown) => request(node, 'PUT', path, { token: u.accessToken, body }),
    patch: (path: string, body?: unknown) => request(node, 'PATCH', path, { token: u.accessToken, body }),
  });
  // The push types that reached the offline outbox for a user, once `want` are all there (pushes go out after commit).
  const pushedTypes = (userId: string, want: string[]) => settled(async () => (await db().execute<{ type: string }[]>(
    `select distinct n.type from offline_outbox o join notifications n on n.id = (o.payload->'data'->>'notificationId')::bigint
      where o.channel = 'push' and n.user_id = ? order by n.type`, [userId])).map((r) => r.type), (types) => want.every((t) => types.includes(t)), { tries: 200, everyMs: 25 });
  let seq = 0;
  const postWalk = async (u: TestUser, node: ApiNode) => {
    const res = await as(u, node).post('/walks', { clientWalkId: `dw2-${++seq}`, points: walk({ distanceM: 2500, speedKmh: 5, seed: 1400 + seq, t0: clock.now().getTime() - 3 * HOUR }) });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.trusted).to.equal(true);
    return res.body as { id: string };
  };

  it('follows both ways, walks, sees the other in the feed, likes and comments, and both get the pushes', async () => {
    // Phones registered, no socket open: every notification is pushed (to the offline outbox here).
    for (const [u, node] of [[dana, one], [minho, two]] as const) {
      expect((await as(u, node).post('/push-tokens', { platform: 'fcm', token: `done-when-${u.id}-${'t'.repeat(24)}` })).status).to.equal(201);
      expect((await as(u, node).put('/walk/profile', { region: '서울 성동구' })).status).to.equal(200);
    }
    expect((await as(dana, one).post(`/walk/users/${minho.id}/follow`)).body).to.deep.equal({ following: true });
    expect((await as(minho, two).post(`/walk/users/${dana.id}/follow`)).body).to.deep.equal({ following: true });
    const danaWalk = await postWalk(dana, one);
    const minhoWalk = await postWalk(minho, two);

    // Each sees the other's walk in the feed, on either node.
    const danaFeed = await as(dana, two).get('/walk/feed');
    expect(danaFeed.body.items.map((i: { walkId: string }) => i.walkId)).to.include.members([minhoWalk.id, danaWalk.id]);
    const minhoFeed = await as(minho, one).get('/walk/feed');
    expect(minhoFeed.body.items.map((i: { walkId: string }) => i.walkId)).to.include.members([danaWalk.id, minhoWalk.id]);

    // Likes and comments, both ways.
    expect((await as(dana, one).post(`/walks/${minhoWalk.id}/like`)).status).to.be.oneOf([200, 201]);
    expect((await as(dana, one).post(`/walks/${minhoWalk.id}/comments`, { body: '초코도 같이 걷고 싶대요!' })).status).to.equal(201);
    expect((await as(minho, two).post(`/walks/${danaWalk.id}/like`)).status).to.be.oneOf([200, 201]);
    const liked = (await as(minho, two).get('/walk/feed')).body.items.find((i: { walkId: string }) => i.walkId === minhoWalk.id);
    expect(liked).to.include({ likes: 1, comments: 1 });

    // The pushes: a new follower, a reaction and the first-walk badge, each way.
    const want = ['walk.badge_earned', 'walk.new_follower', 'walk.reaction'];
    expect(await pushedTypes(dana.id, want)).to.include.members(want);
    expect(await pushedTypes(minho.id, want)).to.include.members(want);
  });

  it('invites a follower to a walk; at its time one walk-together session opens, with both nodes running the cron', async () => {
    const invited = await as(dana, one).post('/walk/invitations', {
      invitees: [minho.id], startsAt: new Date(clock.now().getTime() + HOUR).toISOString(), placeName: '서울숲 3번 출입구', lat: 37.5444, lng: 127.0374,
    });
    expect(invited.status, JSON.stringify(invited.body)).to.equal(201);
    const accepted = await as(minho, two).post(`/walk/invitations/${invited.body.id}/accept`);
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
    expect(await pushedTypes(minho.id, ['walk.invitation'])).to.include('walk.invitation');
    expect(await pushedTypes(dana.id, ['walk.invitation'])).to.include('walk.invitation');

    clock.advance(HOUR);
    await Promise.all([runCronJob(one, 'walk-invitations-start'), runCronJob(two, 'walk-invitations-start')]);
    const started = await as(minho, one).get(`/walk/invitations/${invited.body.id}`);
    expect(started.body.status).to.equal('started');
    expect(started.body.sessionId).to.be.a('string');
    const sessions = await db().execute<{ id: string }[]>(`select id from walk_sessions where created_by = ? and source = 'invitation'`, [dana.id]);
    expect(sessions.map((s) => s.id)).to.deep.equal([started.body.sessionId]);
    const people = await db().execute<{ user_id: string }[]>(`select user_id from walk_session_participants where session_id = ? order by user_id`, [started.body.sessionId]);
    expect(people.map((p) => p.user_id).sort()).to.deep.equal([dana.id, minho.id].sort());
  });

  it('meets up: capacity 10 holds when 30 walkers race to join on two nodes; a new time reaches the members', async () => {
    const meetup = await as(dana, one).post('/meetups', {
      title: '성수 저녁 산책', placeName: '서울숲 가족마당', lat: 37.5443, lng: 127.0377, startsAt: new Date(clock.now().getTime() + 2 * DAY).toISOString(), capacity: 10,
    });
    expect(meetup.status, JSON.stringify(meetup.body)).to.equal(201);
    expect((await as(minho, two).post(`/meetups/${meetup.body.id}/join`)).status).to.equal(201);
    const racers = await Promise.all(Array.from({ length: 30 }, (_, i) => newUser(i % 2 ? one : two)));
    const joins = await Promise.all(racers.map((u, i) => as(u, i % 2 ? one : two).post(`/meetups/${meetup.body.id}/join`)));
    expect(joins.filter((r) => r.status === 201)).to.have.length(8);
    expect(joins.filter((r) => r.status !== 201).every((r) => r.body.code === 'meetup_full')).to.equal(true);
    const shown = await as(minho, one).get(`/meetups/${meetup.body.id}`);
    expect(shown.body).to.include({ memberCount: 10, spotsLeft: 0 });
    expect(shown.body.members).to.have.length(10);

    const moved = await as(dana, two).patch(`/meetups/${meetup.body.id}`, { startsAt: new Date(clock.now().getTime() + 2 * DAY + HOUR).toISOString() });
    expect(moved.status, JSON.stringify(moved.body)).to.equal(200);
    expect(await pushedTypes(minho.id, ['walk.meetup_changed'])).to.include('walk.meetup_changed');
  });

  it('subscribes one walker through a signed App Store notification', async () => {
    const expiresDate = clock.now().getTime() + 30 * DAY;
    const res = await request(two, 'POST', '/webhooks/walk/app-store', {
      raw: apple.body({ notificationType: 'SUBSCRIBED', subtype: 'INITIAL_BUY', signedDate: Date.now(), transaction: { appAccountToken: minho.id, originalTransactionId: `2000${Date.now()}`, expiresDate, signedDate: Date.now() } }),
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.outcome).to.equal('applied');
    const state = (await as(minho, one).get('/walk/subscription')).body;
    expect(state.premium).to.equal(true);
    expect(state.subscriptions.map((s: { provider: string; status: string }) => [s.provider, s.status])).to.deep.equal([['app_store', 'active']]);
    expect((await as(minho, one).get('/walk/profile')).body).to.include({ premium: true, adFree: true });
  });

  it('answers the weather from the cache, and "unavailable" with the last value when KMA is down', async () => {
    await runCronJob(one, 'walk-outside-refresh');
    const fresh = await as(dana, two).get('/walk/outside');
    expect(fresh.status, JSON.stringify(fresh.body)).to.equal(200);
    expect(fresh.body).to.include({ region: '서울', status: 'fresh' });
    expect(fresh.body.weather.temperatureC).to.equal(12);
    expect(fresh.body.walkingIndex.grade).to.equal('good');

    kma.mode = 'down';
    clock.advance(HOUR);
    await runCronJob(two, 'walk-outside-refresh');
    const down = await as(dana, one).get('/walk/outside');
    expect(down.status).to.equal(200);
    expect(down.body.status).to.equal('unavailable');
    expect(down.body.weather.temperatureC, 'the last value').to.equal(12);
    expect(down.body.ageSeconds).to.be.at.least(3600);
    kma.mode = 'up';
  });

  it('subscribes the other through Toss, and the cron renews it a month later, charged once by two nodes', async () => {
    const checkout = await as(dana, one).post('/walk/subscription/checkout');
    expect(checkout.status, JSON.stringify(checkout.body)).to.equal(200);
    const { customerKey } = checkout.body;
    const authKey = `auth_${crypto.randomUUID()}`;
    toss.authorizeBilling({ authKey, customerKey }); // the card registered in Toss's window
    const subscribed = await as(dana, one).post('/walk/subscription/billing-key', { authKey, customerKey });
    expect(subscribed.status, JSON.stringify(subscribed.body)).to.equal(201);
    expect(subscribed.body.premium).to.equal(true);
    const firstEnd = Date.parse(subscribed.body.premiumUntil);
    expect(toss.billingCharges(customerKey)).to.have.length(1);

    clock.set(firstEnd + HOUR);
    expect((await as(dana, two).get('/walk/subscription')).body.subscriptions[0].nextChargeAt).to.be.a('string');
    await Promise.all([runCronJob(one, 'walk-subscription-renewals'), runCronJob(two, 'walk-subscription-renewals')]);
    const charges = toss.billingCharges(customerKey);
    expect(charges.map((c) => c.status)).to.deep.equal(['DONE', 'DONE']);
    const renewed = (await as(dana, two).get('/walk/subscription')).body;
    expect(renewed.premium).to.equal(true);
    expect(Date.parse(renewed.premiumUntil)).to.be.above(firstEnd + 27 * DAY);
  });
});
