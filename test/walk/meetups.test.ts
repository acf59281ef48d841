// Meetups end to end over HTTP: posting, the host's edits and cancel with the members notified,
// nearby search by distance (cube + earthdistance), capacity held under 50 concurrent joins, leaving,
// past meetups closed to joins, bad input refused naming the field, and the members' walk-together
// session.
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { newUser, request, settled, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const HOUR = 3600_000;
const NOW = '2026-11-26T21:00:00+09:00';
// earthdistance's sphere (earth() = 6,378,168 m): metres per degree of latitude.
const M_PER_DEG_LAT = (6_378_168 * Math.PI) / 180;

describe('walk: meetups', function () {
  this.timeout(60_000);
  const clock = createTestClock(NOW);
  let node: ApiNode;
  let host: TestUser;
  before(async () => {
    node = await startNode({}, clock);
    host = await newUser(node);
  });
  after(stopAllNodes);

  const db = () => node.ctx.db.orm.em.fork();
  const at = (hoursFromNow: number) => new Date(Date.parse(NOW) + hoursFromNow * HOUR).toISOString();
  const meetup = (overrides: Record<string, unknown> = {}) => ({
    title: '한강 저녁 산책', description: '강아지 친구들 환영', placeName: '여의도 한강공원', lat: 37.5284, lng: 126.9327,
    startsAt: at(22), capacity: 5, ...overrides,
  });
  const post = (user: TestUser, body: unknown) => request(node, 'POST', '/meetups', { token: user.accessToken, body });
  const act = (user: TestUser, id: string, what: 'join' | 'leave' | 'cancel' | 'session') => request(node, 'POST', `/meetups/${id}/${what}`, { token: user.accessToken });
  // Notifications are sent after the change commits, off the request: wait for them to land.
  const noticesOf = (userId: string, type: string, count: number) => settled(() => db().execute<{ data: Record<string, unknown>; title: string }[]>(
    `select data, title from notifications where user_id = ? and type = ? order by created_at`, [userId, type]), (rows) => rows.length >= count);

  it('posts a meetup with its host as the first member, and shows it with its members', async () => {
    const res = await post(host, meetup({ endsAt: at(23.5) }));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ hostId: host.id, capacity: 5, memberCount: 1, spotsLeft: 4, status: 'open', role: 'host', sessionId: null, placeName: '여의도 한강공원' });
    expect(res.body.startsAt).to.equal('2026-11-27T19:00:00+09:00');
    const other = await newUser(node);
    const got = await request(node, 'GET', `/meetups/${res.body.id}`, { token: other.accessToken });
    expect(got.status).to.equal(200);
    expect(got.body.role).to.equal(null);
    expect(got.body.members).to.deep.equal([{ userId: host.id, joinedAt: got.body.members[0].joinedAt, host: true }]);
  });

  it('lets only the host edit and cancel (403 for others, 404 for no such meetup), and notifies members of a new time or place and of the cancel', async () => {
    const m = (await post(host, meetup())).body;
    const [a, b] = [await newUser(node), await newUser(node)];
    expect((await act(a, m.id, 'join')).status).to.equal(201);
    expect((await act(b, m.id, 'join')).status).to.equal(201);

    const notHost = await request(node, 'PATCH', `/meetups/${m.id}`, { token: a.accessToken, body: { title: '내 모임' } });
    expect(notHost.status).to.equal(403);
    expect(notHost.body.code).to.equal('not_host');
    expect((await act(a, m.id, 'cancel')).status).to.equal(403);
    expect((await request(node, 'PATCH', `/meetups/${crypto.randomUUID()}`, { token: host.accessToken, body: { title: 'x' } })).status).to.equal(404);

    // A title alone tells nobody; a new time and place tell every member but the host.
    const retitled = await request(node, 'PATCH', `/meetups/${m.id}`, { token: host.accessToken, body: { title: '한강 아침 산책' } });
    expect(retitled.status).to.equal(200);
    expect(retitled.body.title).to.equal('한강 아침 산책');
    const moved = await request(node, 'PATCH', `/meetups/${m.id}`, {
      token: host.accessToken, body: { startsAt: at(30), placeName: '뚝섬 한강공원', lat: 37.5296, lng: 127.0693 },
    });
    expect(moved.status, JSON.stringify(moved.body)).to.equal(200);
    expect(moved.body).to.include({ placeName: '뚝섬 한강공원', startsAt: '2026-11-28T03:00:00+09:00', memberCount: 3 });
    for (const u of [a, b]) {
      const notes = await noticesOf(u.id, 'walk.meetup_changed', 1);
      expect(notes).to.have.length(1);
      expect(notes[0].data).to.include({ action: 'updated', meetupId: m.id, placeName: '뚝섬 한강공원' });
      expect(notes[0].data.changes).to.deep.equal(['time', 'place']);
    }
    expect(await noticesOf(host.id, 'walk.meetup_changed', 0)).to.have.length(0);

    // Capacity cannot go below the members already in.
    const tooSmall = await request(node, 'PATCH', `/meetups/${m.id}`, { token: host.accessToken, body: { capacity: 2 } });
    expect(tooSmall.status).to.equal(409);
    expect(tooSmall.body.code).to.equal('capacity_below_members');
    expect(tooSmall.body.errors[0].field).to.equal('capacity');

    const cancelled = await act(host, m.id, 'cancel');
    expect(cancelled.status).to.equal(200);
    expect(cancelled.body.status).to.equal('cancelled');
    expect((await act(host, m.id, 'cancel')).body.status).to.equal('cancelled');
    for (const u of [a, b]) {
      const notes = await noticesOf(u.id, 'walk.meetup_changed', 2);
      expect(notes).to.have.length(2);
      expect(notes[1].data).to.include({ action: 'cancelled', meetupId: m.id });
    }
    // Cancelled: nobody joins it, and the host cannot edit it.
    expect((await act(await newUser(node), m.id, 'join')).body.code).to.equal('meetup_cancelled');
    expect((await request(node, 'PATCH', `/meetups/${m.id}`, { token: host.accessToken, body: { title: 'x' } })).status).to.equal(409);
  });

  it('finds open meetups still to start within the radius, nearest first with their distance, and none beyond', async () => {
    // Jeju, far from every other meetup of this file.
    const centre = { lat: 33.4996, lng: 126.5312 };
    const north = (m: number) => ({ lat: centre.lat + m / M_PER_DEG_LAT, lng: centre.lng });
    const ids: Record<string, string> = {};
    for (const d of [1800, 300, 2500, 900]) ids[d] = (await post(host, meetup({ ...north(d), title: `${d} m` }))).body.id;
    const cancelled = (await post(host, meetup({ ...north(500), title: 'cancelled' }))).body.id;
    await act(host, cancelled, 'cancel');
    const later = (await post(host, meetup({ ...north(600), title: 'later', startsAt: at(100) }))).body.id;

    const viewer = await newUser(node);
    const res = await request(node, 'GET', `/meetups/nearby?lat=${centre.lat}&lng=${centre.lng}&radiusM=2000`, { token: viewer.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.items.map((m: { id: string }) => m.id)).to.deep.equal([ids[300], later, ids[900], ids[1800]]);
    const distances = res.body.items.map((m: { distanceM: number }) => m.distanceM);
    for (const [got, want] of distances.map((d: number, i: number) => [d, [300, 600, 900, 1800][i]])) expect(got).to.be.within(want - 2, want + 2);

    // `from` leaves out what starts before it; a small radius keeps only the nearest.
    const fromLater = await request(node, 'GET', `/meetups/nearby?lat=${centre.lat}&lng=${centre.lng}&radiusM=2000&from=${encodeURIComponent(at(50))}`, { token: viewer.accessToken });
    expect(fromLater.body.items.map((m: { id: string }) => m.id)).to.deep.equal([later]);
    const small = await request(node, 'GET', `/meetups/nearby?lat=${centre.lat}&lng=${centre.lng}&radiusM=400&limit=5`, { token: viewer.accessToken });
    expect(small.body.items.map((m: { id: string }) => m.id)).to.deep.equal([ids[300]]);
  });

  it('hides a host\'s meetups from a walker either of them blocked: 404, not nearby, no join', async () => {
    const [blocker, blocked] = [await newUser(node), await newUser(node)];
    const place = { lat: 36.3504, lng: 127.3845 }; // Daejeon, alone in this file
    const m = (await post(blocker, meetup(place))).body;
    expect((await request(node, 'GET', `/meetups/${m.id}`, { token: blocked.accessToken })).status).to.equal(200);
    expect((await request(node, 'POST', `/walk/users/${blocked.id}/block`, { token: blocker.accessToken })).status).to.equal(200);
    expect((await request(node, 'GET', `/meetups/${m.id}`, { token: blocked.accessToken })).status).to.equal(404);
    expect((await act(blocked, m.id, 'join')).status).to.equal(404);
    const near = await request(node, 'GET', `/meetups/nearby?lat=${place.lat}&lng=${place.lng}&radiusM=1000`, { token: blocked.accessToken });
    expect(near.body.items).to.deep.equal([]);
    // The blocker, too, no longer sees the meetups of the walker they blocked.
    const theirs = (await post(blocked, meetup({ lat: place.lat + 0.001, lng: place.lng }))).body;
    expect((await request(node, 'GET', `/meetups/${theirs.id}`, { token: blocker.accessToken })).status).to.equal(404);
    const third = await newUser(node);
    const seen = await request(node, 'GET', `/meetups/nearby?lat=${place.lat}&lng=${place.lng}&radiusM=1000`, { token: third.accessToken });
    expect(seen.body.items.map((x: { id: string }) => x.id)).to.have.members([m.id, theirs.id]);
  });

  it('lets exactly capacity walkers in when 50 join at once, and a leave frees a place', async () => {
    const m = (await post(host, meetup({ capacity: 10, lat: 35.1587, lng: 129.1604 }))).body;
    const joiners: TestUser[] = [];
    for (let i = 0; i < 5; i++) joiners.push(...(await Promise.all(Array.from({ length: 10 }, () => newUser(node)))));
    const results = await Promise.all(joiners.map((u) => act(u, m.id, 'join')));
    const statuses = results.map((r) => r.status);
    // The host is the first of the ten.
    expect(statuses.filter((s) => s === 201)).to.have.length(9);
    expect(statuses.filter((s) => s === 409)).to.have.length(41);
    expect(new Set(results.filter((r) => r.status === 409).map((r) => r.body.code))).to.deep.equal(new Set(['meetup_full']));
    const [row] = await db().execute<{ member_count: number; members: string }[]>(
      `select member_count, (select count(*) from walk_meetup_members where meetup_id = ?) as members from walk_meetups where id = ?`, [m.id, m.id]);
    expect(row.member_count).to.equal(10);
    expect(Number(row.members)).to.equal(10);

    // Joining again is no second place; leaving frees one for someone who was turned away.
    const inside = joiners.filter((_, i) => results[i].status === 201);
    const outside = joiners.filter((_, i) => results[i].status === 409);
    expect((await act(inside[0], m.id, 'join')).status).to.equal(200);
    const left = await act(inside[0], m.id, 'leave');
    expect(left.status).to.equal(200);
    expect(left.body).to.include({ memberCount: 9, spotsLeft: 1, role: null });
    expect((await act(outside[0], m.id, 'join')).status).to.equal(201);
    expect((await act(outside[1], m.id, 'join')).body.code).to.equal('meetup_full');
    // The host cannot leave: they cancel.
    expect((await act(host, m.id, 'leave')).body.code).to.equal('host_cannot_leave');

    const mine = await request(node, 'GET', '/meetups/mine?role=joined', { token: outside[0].accessToken });
    expect(mine.body.items.map((x: { id: string }) => x.id)).to.deep.equal([m.id]);
    expect(mine.body.items[0].role).to.equal('member');
  });

  it('pages my meetups, hosted and joined, by cursor', async () => {
    const me = await newUser(node);
    const hostedIds = [];
    for (const h of [40, 41, 42]) hostedIds.push((await post(me, meetup({ startsAt: at(h) }))).body.id);
    const joined = (await post(host, meetup({ startsAt: at(43) }))).body.id;
    await act(me, joined, 'join');
    const first = await request(node, 'GET', '/meetups/mine?limit=3', { token: me.accessToken });
    expect(first.body.items.map((x: { id: string }) => x.id)).to.deep.equal([joined, hostedIds[2], hostedIds[1]]);
    const second = await request(node, 'GET', `/meetups/mine?limit=3&cursor=${first.body.nextCursor}`, { token: me.accessToken });
    expect(second.body.items.map((x: { id: string }) => x.id)).to.deep.equal([hostedIds[0]]);
    expect(second.body.nextCursor).to.equal(null);
    const hosting = await request(node, 'GET', '/meetups/mine?role=hosting', { token: me.accessToken });
    expect(hosting.body.items).to.have.length(3);
  });

  it('closes a meetup to joins once it has started', async () => {
    const m = (await post(host, meetup({ startsAt: at(1) }))).body;
    const walker = await newUser(node);
    clock.set(Date.parse(NOW) + 2 * HOUR);
    try {
      const late = await act(walker, m.id, 'join');
      expect(late.status).to.equal(409);
      expect(late.body.code).to.equal('meetup_started');
      expect((await request(node, 'GET', `/meetups/${m.id}`, { token: walker.accessToken })).body.status).to.equal('done');
      const nearby = await request(node, 'GET', `/meetups/nearby?lat=${m.lat}&lng=${m.lng}&radiusM=100`, { token: walker.accessToken });
      expect(nearby.body.items.map((x: { id: string }) => x.id)).to.not.include(m.id);
    } finally {
      clock.set(NOW);
    }
  });

  it('refuses bad input naming the field', async () => {
    const field = async (res: Promise<{ status: number; body: any }>) => {
      const r = await res;
      expect(r.status, JSON.stringify(r.body)).to.equal(400);
      return r.body.errors[0].field;
    };
    expect(await field(post(host, meetup({ lat: 91 })))).to.equal('lat');
    expect(await field(post(host, meetup({ capacity: 1 })))).to.equal('capacity');
    expect(await field(post(host, meetup({ capacity: 51 })))).to.equal('capacity');
    expect(await field(post(host, meetup({ startsAt: at(-1) })))).to.equal('startsAt');
    expect(await field(post(host, meetup({ endsAt: at(21) })))).to.equal('endsAt');
    expect(await field(request(node, 'GET', '/meetups/nearby?lat=37.5&lng=127&radiusM=20001', { token: host.accessToken }))).to.equal('radiusM');
    expect(await field(request(node, 'GET', '/meetups/nearby?lat=-91&lng=127', { token: host.accessToken }))).to.equal('lat');
    const m = (await post(host, meetup())).body;
    expect(await field(request(node, 'PATCH', `/meetups/${m.id}`, { token: host.accessToken, body: { startsAt: at(-2) } }))).to.equal('startsAt');
    expect(await field(request(node, 'PATCH', `/meetups/${m.id}`, { token: host.accessToken, body: { lat: 37 } }))).to.equal('lng');
  });

  it('starts one walk-together session for the members: the host any time, a member from 30 minutes before', async () => {
    const m = (await post(host, meetup({ startsAt: at(2) }))).body;
    expect((await act(host, m.id, 'session')).body.code).to.equal('no_members');
    const [a, b, stranger] = [await newUser(node), await newUser(node), await newUser(node)];
    await act(a, m.id, 'join');
    await act(b, m.id, 'join');
    expect((await act(a, m.id, 'session')).body.code).to.equal('too_early');
    expect((await act(stranger, m.id, 'session')).status).to.equal(403);

    const started = await act(host, m.id, 'session');
    expect(started.status, JSON.stringify(started.body)).to.equal(201);
    const sessionId = started.body.sessionId;
    const again = await act(a, m.id, 'session');
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal({ sessionId, created: false });
    const [s] = await db().execute<{ source: string; created_by: string }[]>(`select source, created_by from walk_sessions where id = ?`, [sessionId]);
    expect(s).to.deep.equal({ source: 'meetup', created_by: host.id });
    const people = await db().execute<{ user_id: string }[]>(`select user_id from walk_session_participants where session_id = ? order by user_id`, [sessionId]);
    expect(people.map((p) => p.user_id)).to.have.members([host.id, a.id, b.id]);
    expect((await request(node, 'GET', `/meetups/${m.id}`, { token: b.accessToken })).body.sessionId).to.equal(sessionId);

    // Once that session has closed, a member 30 minutes before the start starts a new one.
    await db().execute(`update walk_sessions set status = 'closed', closed_at = now(), close_reason = 'ended' where id = ?`, [sessionId]);
    clock.set(Date.parse(NOW) + 1.6 * HOUR);
    try {
      const fresh = await act(b, m.id, 'session');
      expect(fresh.status).to.equal(201);
      expect(fresh.body.sessionId).to.not.equal(sessionId);
    } finally {
      clock.set(NOW);
    }
  });
});
