// Walks end to end over HTTP: a track checked in the geo worker, trusted or flagged with reasons,
// idempotent per clientWalkId, the streak in KST days, routes cut at home zones for others, bad
// tracks refused naming the fix; profiles and pets with their health records.
import { expect } from 'chai';
import sharp from 'sharp';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { SEOUL, syntheticLine, walk } from '../tracks.ts';

const HOUR = 3600_000;
const DAY = 24 * HOUR;
// 2026-11-23 is a Monday; 07:00 KST.
const MONDAY_7AM_KST = Date.parse('2026-11-23T07:00:00+09:00');

describe('walk: walks', function () {
  this.timeout(30_000);
  const clock = createTestClock('2026-11-26T21:00:00+09:00');
  let node: ApiNode;
  let u: TestUser;
  before(async () => {
    node = await startNode({}, clock);
    u = await newUser(node);
  });
  after(stopAllNodes);

  const post = (user: TestUser, body: unknown) => request(node, 'POST', '/walks', { token: user.accessToken, body });
  const db = () => node.ctx.db.orm.em.fork();
  let seq = 0;
  const morningWalk = (dayOffset: number, opts: { distanceM?: number; seed?: number } = {}) =>
    walk({ distanceM: opts.distanceM ?? 2000, speedKmh: 5, seed: opts.seed ?? 100 + dayOffset, t0: MONDAY_7AM_KST + dayOffset * DAY });

  it('keeps a real walk as trusted, with distance, duration, calories by pet weight, a simplified route and bounds', async () => {
    const pet = (await request(node, 'POST', '/pets', { token: u.accessToken, body: { name: '콩이', breed: '말티즈', weightKg: 4 } })).body;
    const points = morningWalk(0, { distanceM: 2500 });
    const res = await post(u, { clientWalkId: `w-${++seq}`, points, petIds: [pet.id] });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const w = res.body;
    expect(w).to.include({ trusted: true, trustScore: 100, localDate: '2026-11-23' });
    expect(w.trustReasons).to.deep.equal([]);
    expect(w.distanceM).to.be.within(2300, 2600);
    expect(w.durationS).to.be.within(1500, 2100);
    // 0.8 kcal per kg per km for a 4 kg dog.
    expect(w.calories).to.equal(Math.round(0.8 * 4 * (w.distanceM / 1000)));
    expect(w.route.type).to.equal('LineString');
    expect(w.route.coordinates.length).to.be.within(10, points.length / 2);
    expect(w.bounds.minLat).to.be.below(w.bounds.maxLat);
    expect(w.petIds).to.deep.equal([pet.id]);
    expect(w.startedAt).to.equal('2026-11-23T07:00:00+09:00');
  });

  it('keeps a flagged walk with the reasons the walker reads, and it counts for nothing', async () => {
    const other = await newUser(node);
    const car = walk({ distanceM: 4000, speedKmh: 40, seed: 5, t0: MONDAY_7AM_KST });
    const fast = await post(other, { clientWalkId: 'car', points: car });
    expect(fast.status).to.equal(201);
    expect(fast.body.trusted).to.equal(false);
    expect(fast.body.trustReasons.map((r: { code: string }) => r.code)).to.include('too_fast');
    expect(fast.body.trustReasons[0].message).to.match(/km\/h/);
    const spoofed = await post(other, { clientWalkId: 'spoof', points: syntheticLine(400, 4, 3, SEOUL, MONDAY_7AM_KST + HOUR) });
    expect(spoofed.body.trustReasons.map((r: { code: string }) => r.code)).to.include('spoofed');
    expect(spoofed.body.trustScore).to.be.below(100);
    const short = await post(other, { clientWalkId: 'short', points: walk({ distanceM: 300, speedKmh: 5, seed: 3, t0: MONDAY_7AM_KST + 2 * HOUR }) });
    expect(short.body.trustReasons.map((r: { code: string }) => r.code)).to.deep.equal(['too_short']);
    expect(short.body.trustScore).to.equal(0);
    const profile = await request(node, 'GET', '/walk/profile', { token: other.accessToken });
    expect(profile.body.streak).to.deep.include({ longest: 0, lastWalkDate: null });
    const stats = await request(node, 'GET', '/walks/stats?period=all', { token: other.accessToken });
    expect(stats.body).to.include({ walks: 3, trustedWalks: 0, distanceM: 0 });
  });

  it('stores a retried walk once: the same clientWalkId answers the stored walk, even when the two race', async () => {
    const racer = await newUser(node);
    const body = { clientWalkId: 'same-walk', points: morningWalk(1, { seed: 77 }) };
    const [a, b] = await Promise.all([post(racer, body), post(racer, body)]);
    expect([a.status, b.status].sort()).to.deep.equal([200, 201]);
    expect(a.body.id).to.equal(b.body.id);
    const again = await post(racer, body);
    expect(again.status).to.equal(200);
    expect(again.body.id).to.equal(a.body.id);
    const [{ n }] = await db().execute<{ n: string }[]>('select count(*) as n from walks where user_id = ?', [racer.id]);
    expect(n).to.equal('1');
    expect((await request(node, 'GET', '/walk/profile', { token: racer.accessToken })).body.streak).to.deep.include({ current: 0, longest: 1 });
  });

  it('counts the streak in consecutive KST days with a trusted walk, whatever order the walks arrive in', async () => {
    const walker = await newUser(node);
    // Monday, Tuesday and (late) Wednesday 23:30 KST — uploaded out of order.
    const wednesdayLate = walk({ distanceM: 1500, speedKmh: 5, seed: 9, t0: Date.parse('2026-11-25T23:30:00+09:00') });
    for (const [id, points] of [['wed', wednesdayLate], ['mon', morningWalk(0, { seed: 1 })], ['tue', morningWalk(1, { seed: 2 })]] as const) {
      expect((await post(walker, { clientWalkId: id, points })).status).to.equal(201);
    }
    const profile = async () => (await request(node, 'GET', '/walk/profile', { token: walker.accessToken })).body.streak;
    // The clock says Thursday 21:00 KST: the streak ended yesterday, so it is alive.
    expect(await profile()).to.deep.equal({ current: 3, longest: 3, lastWalkDate: '2026-11-25' });
    clock.advance(DAY);
    expect((await profile()).current, 'a day without a walk ends it').to.equal(0);
    clock.advance(-DAY);
  });

  it('shows others a trusted walk with its start and end inside the owner\'s home zones cut off, and photo places there hidden', async () => {
    const owner = await newUser(node);
    const viewer = await newUser(node);
    const points = morningWalk(2, { distanceM: 2500, seed: 31 });
    const home = { lat: points[0].lat, lng: points[0].lng, radiusM: 150 };
    expect((await request(node, 'PUT', '/walk/profile', { token: owner.accessToken, body: { homeZones: [home], region: '서울 중구' } })).status).to.equal(200);
    const w = (await post(owner, { clientWalkId: 'home', points })).body;
    const photo = await sharp({ create: { width: 600, height: 800, channels: 3, background: { r: 10, g: 120, b: 90 } } }).jpeg().toBuffer();
    const up = await fetch(`${node.url}/walks/${w.id}/photos?lat=${home.lat}&lng=${home.lng}`, { method: 'POST', headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/jpeg' }, body: new Uint8Array(photo) });
    expect(up.status).to.equal(201);
    const mine = (await request(node, 'GET', `/walks/${w.id}`, { token: owner.accessToken })).body;
    const theirs = (await request(node, 'GET', `/walks/${w.id}`, { token: viewer.accessToken })).body;
    expect(mine.routeTrimmed).to.equal(false);
    expect(mine.photos[0].lat).to.equal(home.lat);
    expect(theirs.routeTrimmed).to.equal(true);
    expect(theirs.clientWalkId).to.equal(undefined);
    expect(theirs.photos[0].lat).to.equal(null);
    const near = (c: number[]) => Math.hypot((c[1] - home.lat) * 111_320, (c[0] - home.lng) * 88_000) <= home.radiusM;
    expect(near(theirs.route.coordinates[0]), 'the first point others see is outside the zone').to.equal(false);
    expect(mine.route.coordinates.length).to.be.greaterThan(theirs.route.coordinates.length);
    // A flagged walk is its owner's business only.
    const flagged = (await post(owner, { clientWalkId: 'flagged', points: walk({ distanceM: 300, speedKmh: 5, seed: 4, t0: MONDAY_7AM_KST + 3 * DAY }) })).body;
    expect((await request(node, 'GET', `/walks/${flagged.id}`, { token: viewer.accessToken })).status).to.equal(404);
  });

  it('takes the track as GeoJSON, and lists, pages, calendars and totals my walks', async () => {
    const walker = await newUser(node);
    const points = morningWalk(0, { seed: 55 });
    const geojson = { type: 'Feature', geometry: { type: 'LineString', coordinates: points.map((p) => [p.lng, p.lat]) }, properties: { coordTimes: points.map((p) => new Date(p.t).toISOString()) } };
    const res = await post(walker, { clientWalkId: 'geo', geojson });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.trusted).to.equal(true);
    await post(walker, { clientWalkId: 'tue', points: morningWalk(1, { seed: 56 }) });
    await post(walker, { clientWalkId: 'wed', points: morningWalk(2, { seed: 57 }) });
    const first = await request(node, 'GET', '/walks?limit=2', { token: walker.accessToken });
    expect(first.body.items.map((w: { localDate: string }) => w.localDate)).to.deep.equal(['2026-11-25', '2026-11-24']);
    const second = await request(node, 'GET', `/walks?limit=2&cursor=${first.body.nextCursor}`, { token: walker.accessToken });
    expect(second.body.items.map((w: { localDate: string }) => w.localDate)).to.deep.equal(['2026-11-23']);
    expect(second.body.nextCursor).to.equal(null);
    const calendar = await request(node, 'GET', '/walks/calendar?month=2026-11', { token: walker.accessToken });
    expect(calendar.body.days.map((d: { date: string }) => d.date)).to.deep.equal(['2026-11-23', '2026-11-24', '2026-11-25']);
    const week = await request(node, 'GET', '/walks/stats?period=week', { token: walker.accessToken });
    expect(week.body).to.include({ walks: 3, trustedWalks: 3, from: '2026-11-23', to: '2026-11-30' });
    expect((await request(node, 'GET', '/walks/calendar?month=2026-13', { token: walker.accessToken })).body.errors[0].field).to.equal('month');
  });

  it('refuses bad tracks with a 400 naming the fix, and stores nothing', async () => {
    const walker = await newUser(node);
    const good = morningWalk(0, { seed: 8 });
    const swap = good.map((p) => ({ ...p }));
    [swap[5].t, swap[6].t] = [swap[6].t, swap[5].t];
    const cases: [string, unknown, string][] = [
      ['unsorted times', { clientWalkId: 'x1', points: swap }, 'points[6].t'],
      ['NaN', { clientWalkId: 'x2', points: good.map((p, i) => (i === 3 ? { ...p, lat: 'NaN' } : p)) }, 'points[3].lat'],
      ['latitude out of range', { clientWalkId: 'x3', points: good.map((p, i) => (i === 4 ? { ...p, lat: 91 } : p)) }, 'points[4].lat'],
      ['longitude out of range', { clientWalkId: 'x4', points: good.map((p, i) => (i === 2 ? { ...p, lng: -181 } : p)) }, 'points[2].lng'],
      ['one fix', { clientWalkId: 'x5', points: good.slice(0, 1) }, 'points'],
      ['no track', { clientWalkId: 'x6' }, 'points'],
      ['both forms', { clientWalkId: 'x7', points: good, geojson: { type: 'Feature', geometry: { type: 'LineString', coordinates: [[0, 0], [0, 1]] }, properties: { coordTimes: [good[0].t, good[1].t] } } }, 'points'],
      ['a GeoJSON coordinate that is not a pair of numbers', { clientWalkId: 'x12', geojson: { type: 'Feature', geometry: { type: 'LineString', coordinates: good.map((p, i) => (i === 1 ? ['x', p.lat] : [p.lng, p.lat])) }, properties: { coordTimes: good.map((p) => p.t) } } }, 'geojson.geometry.coordinates[1]'],
      ['times not matching coordinates', { clientWalkId: 'x8', geojson: { type: 'Feature', geometry: { type: 'LineString', coordinates: [[127, 37.5], [127, 37.6], [127, 37.7]] }, properties: { coordTimes: [good[0].t, good[1].t] } } }, 'geojson.properties.coordTimes'],
      ['in the future', { clientWalkId: 'x9', points: walk({ distanceM: 1000, speedKmh: 5, seed: 2, t0: Date.parse('2026-11-28T07:00:00+09:00') }) }, `points[`],
      ['someone else\'s pet', { clientWalkId: 'x10', points: good, petIds: [crypto.randomUUID()] }, 'petIds[0]'],
      ['too many fixes', { clientWalkId: 'x11', points: Array.from({ length: 20_001 }, (_, i) => ({ lat: 37.5, lng: 127, t: good[0].t + i * 1000 })) }, 'points'],
    ];
    for (const [what, body, field] of cases) {
      const res = await post(walker, body);
      expect(res.status, what).to.equal(400);
      expect(res.body.errors?.[0]?.field, what).to.satisfy((f: string) => f.startsWith(field));
    }
    // A million fixes never reaches the parser's end: the body limit answers first.
    const million = `{"clientWalkId":"m","points":[${Array.from({ length: 1_000_000 }, (_, i) => `{"lat":37.5,"lng":127,"t":${good[0].t + i}}`).join(',')}]}`;
    const huge = await fetch(`${node.url}/walks`, { method: 'POST', headers: { authorization: `Bearer ${walker.accessToken}`, 'content-type': 'application/json' }, body: million });
    expect(huge.status).to.equal(413);
    const [{ n }] = await db().execute<{ n: string }[]>('select count(*) as n from walks where user_id = ?', [walker.id]);
    expect(n).to.equal('0');
  });
});

describe('walk: profiles and pets', function () {
  this.timeout(20_000);
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  it('makes my profile on first use, changes it, and shows others no home zones', async () => {
    const u = await newUser(node);
    const other = await newUser(node);
    const mine = await request(node, 'GET', '/walk/profile', { token: u.accessToken });
    expect(mine.body).to.include({ userId: u.id, premium: false, region: null });
    const changed = await request(node, 'PUT', '/walk/profile', { token: u.accessToken, body: { nickname: '산책왕', region: '서울 마포구', homeZones: [{ lat: 37.55, lng: 126.91, radiusM: 200 }] } });
    expect(changed.body).to.include({ nickname: '산책왕', region: '서울 마포구' });
    const seen = await request(node, 'GET', `/walk/users/${u.id}`, { token: other.accessToken });
    expect(seen.body.nickname).to.equal('산책왕');
    expect(seen.body.homeZones).to.equal(undefined);
    const bad = await request(node, 'PUT', '/walk/profile', { token: u.accessToken, body: { homeZones: [{ lat: 37.5, lng: 127, radiusM: 5 }, { lat: 1, lng: 1, radiusM: 100 }, { lat: 1, lng: 1, radiusM: 100 }, { lat: 1, lng: 1, radiusM: 100 }] } });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors.map((e: { field: string }) => e.field)).to.include('homeZones');
  });

  it('keeps pets and their health records writable by their owner only', async () => {
    const owner = await newUser(node);
    const stranger = await newUser(node);
    const pet = (await request(node, 'POST', '/pets', { token: owner.accessToken, body: { name: '보리', breed: '진돗개', birthDate: '2021-03-01', weightKg: 18.5 } })).body;
    expect(pet).to.include({ name: '보리', weightKg: 18.5, birthDate: '2021-03-01' });
    expect((await request(node, 'PATCH', `/pets/${pet.id}`, { token: stranger.accessToken, body: { name: 'x' } })).status).to.equal(404);
    expect((await request(node, 'POST', `/pets/${pet.id}/health`, { token: stranger.accessToken, body: { kind: 'weight', recordedOn: '2026-11-01', weightKg: 1 } })).status).to.equal(404);
    await request(node, 'POST', `/pets/${pet.id}/health`, { token: owner.accessToken, body: { kind: 'weight', recordedOn: '2026-11-01', weightKg: 19.2 } });
    await request(node, 'POST', `/pets/${pet.id}/health`, { token: owner.accessToken, body: { kind: 'weight', recordedOn: '2026-10-01', weightKg: 18.9 } });
    await request(node, 'POST', `/pets/${pet.id}/health`, { token: owner.accessToken, body: { kind: 'vaccination', recordedOn: '2026-09-10', title: '종합백신', nextDueOn: '2027-09-10' } });
    const vet = await request(node, 'POST', `/pets/${pet.id}/health`, { token: owner.accessToken, body: { kind: 'vet_visit', recordedOn: '2026-08-01', title: '행복동물병원' } });
    expect(vet.status).to.equal(201);
    expect((await request(node, 'GET', `/pets/${pet.id}`, { token: owner.accessToken })).body.weightKg, 'the newest weight record').to.equal(19.2);
    const weights = await request(node, 'GET', `/pets/${pet.id}/health?kind=weight`, { token: owner.accessToken });
    expect(weights.body.items.map((r: { weightKg: number }) => r.weightKg)).to.deep.equal([19.2, 18.9]);
    expect((await request(node, 'POST', `/pets/${pet.id}/health`, { token: owner.accessToken, body: { kind: 'vaccination', recordedOn: '2026-13-01', title: 'x' } })).body.errors[0].field).to.equal('recordedOn');
    const photo = await sharp({ create: { width: 800, height: 600, channels: 3, background: { r: 200, g: 180, b: 150 } } }).png().toBuffer();
    const up = await fetch(`${node.url}/pets/${pet.id}/photo`, { method: 'PUT', headers: { authorization: `Bearer ${owner.accessToken}`, 'content-type': 'image/png' }, body: new Uint8Array(photo) });
    expect(up.status).to.equal(200);
    expect(((await up.json()) as { photoUrl: string | null }).photoUrl).to.be.a('string');
    expect((await request(node, 'DELETE', `/pets/${pet.id}`, { token: stranger.accessToken })).status).to.equal(404);
    expect((await request(node, 'DELETE', `/pets/${pet.id}`, { token: owner.accessToken })).status).to.equal(204);
    expect((await request(node, 'GET', '/pets', { token: owner.accessToken })).body.items).to.deep.equal([]);
  });
});
