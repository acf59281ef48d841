// Outside data end to end against wire-level fakes of KMA, AirKorea and Kakao Local, run by the real
// clients: the hourly refresh fills the cache for the regions of active walkers only, requests answer
// from the cache, and a provider that is down, slow, behind an HTML outage page or out of quota gives
// "unavailable" with the last value and its age — never a 5xx. Animal hospitals within a radius by
// earthdistance, searched at Kakao once a day per area.
import { expect } from 'chai';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { toKmaGrid } from '../../integrations/weather/kma.ts';
import { walkingIndex } from '../../services/walk/outside.ts';
import { createTestClock } from '../../services/time.ts';
import { startFakeAirKorea, type FakeAirKorea } from '../fakes/airkorea.ts';
import { startFakeKakaoLocal, type FakeKakaoLocal } from '../fakes/kakaoLocal.ts';
import { startFakeKma, type FakeKma } from '../fakes/kma.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { walk } from '../tracks.ts';

const HOUR = 3600_000;
const KMA_KEY = 'kma+key/with=chars';
const AIR_KEY = 'air-key';
const KAKAO_KEY = 'kakao-rest-key';
// Seoul City Hall, and points due north of it.
const HALL = { lat: 37.5665, lng: 126.978 };
const north = (m: number) => ({ lat: HALL.lat + m / 111_195, lng: HALL.lng });

describe('walk: outside data (weather, air, walking index, animal hospitals)', function () {
  this.timeout(60_000);
  const clock = createTestClock('2026-11-27T18:30:00+09:00');
  let node: ApiNode;
  let bare: ApiNode;
  let kma: FakeKma;
  let air: FakeAirKorea;
  let kakao: FakeKakaoLocal;
  let seoulWalker: TestUser;
  before(async () => {
    [kma, air, kakao] = await Promise.all([startFakeKma({ serviceKey: KMA_KEY }), startFakeAirKorea({ serviceKey: AIR_KEY }), startFakeKakaoLocal({ restApiKey: KAKAO_KEY })]);
    node = await startNode({
      KMA_SERVICE_KEY: KMA_KEY, KMA_BASE_URL: kma.url, AIRKOREA_SERVICE_KEY: AIR_KEY, AIRKOREA_BASE_URL: air.url,
      KAKAO_REST_API_KEY: KAKAO_KEY, KAKAO_LOCAL_BASE_URL: kakao.url, WALK_OUTSIDE_TIMEOUT_MS: '300',
    }, clock);
    // No provider keys: every answer is 'unavailable: not configured'.
    bare = await startNode({}, clock);
    // Slower than any call may take: a 'slow' provider is only answered by the timeout.
    kma.slowMs = kakao.slowMs = 10_000;
    seoulWalker = await walkerIn(node, '서울 마포구', true);
  });
  after(async () => {
    await stopAllNodes();
    await Promise.all([kma.close(), air.close(), kakao.close()]);
  });

  const outside = () => moduleServices(node.services, walkModule).outside;
  const get = (n: ApiNode, u: TestUser, path: string) => request(n, 'GET', path, { token: u.accessToken });
  let seq = 0;
  async function walkerIn(n: ApiNode, region: string, walked: boolean): Promise<TestUser> {
    const u = await newUser(n);
    expect((await request(n, 'PUT', '/walk/profile', { token: u.accessToken, body: { region } })).status).to.equal(200);
    if (walked) {
      const res = await request(n, 'POST', '/walks', {
        token: u.accessToken, body: { clientWalkId: `o-${++seq}`, points: walk({ distanceM: 1500, speedKmh: 5, seed: 900 + seq, t0: clock.now().getTime() - 3 * HOUR }) },
      });
      expect(res.status, JSON.stringify(res.body)).to.equal(201);
    }
    return u;
  }

  it('refreshes only the regions of walkers active in the last 14 days, and answers from the cache', async () => {
    await walkerIn(node, '부산광역시 해운대구', false); // never walked: Busan is not fetched
    kma.requests.length = 0;
    air.requests.length = 0;
    const result = await outside().refresh();
    expect(result).to.deep.equal({ regions: 1, refreshed: 2, failed: 0 });
    // The real clients' requests: Seoul's KMA grid cell and AirKorea's sido name.
    const grid = toKmaGrid(HALL.lat, HALL.lng);
    expect(grid).to.deep.equal({ nx: 60, ny: 127 });
    expect(kma.requests.every((r) => r.query.get('nx') === '60' && r.query.get('ny') === '127' && r.query.get('serviceKey') === KMA_KEY)).to.equal(true);
    expect(kma.requests[0].query.get('base_time')).to.equal('1700');
    expect(air.requests.map((r) => r.query.get('sidoName'))).to.deep.equal(['서울']);

    const before = kma.requests.length + air.requests.length;
    const res = await get(node, seoulWalker, '/walk/outside');
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(kma.requests.length + air.requests.length, 'a request never calls a provider').to.equal(before);
    expect(res.body).to.include({ region: '서울', status: 'fresh', ageSeconds: 0 });
    expect(res.body.weather).to.include({ source: 'kma', temperatureC: 12, precipitationProbability: 10, precipitationType: 'none', sky: 'clear', humidity: 55, windMs: 2.1 });
    expect(res.body.weather.forecastAt, 'the hour we are in').to.equal('2026-11-27T18:00:00+09:00');
    expect(res.body.air).to.include({ source: 'airkorea', sidoName: '서울', pm10: 25, pm25: 12, stations: 3 });
    expect(res.body.walkingIndex).to.deep.equal({ score: 100, grade: 'good', reasons: [] });
    // Another region by name: Busan has no data yet.
    const busan = await get(node, seoulWalker, `/walk/outside?region=${encodeURIComponent('부산 해운대구')}`);
    expect(busan.status).to.equal(200);
    expect(busan.body).to.include({ region: '부산', status: 'unavailable', weather: null, air: null });
    expect(busan.body.walkingIndex.grade).to.equal('unknown');
  });

  it('answers unavailable with the last value and its age when a provider is down, slow, behind an outage page or out of quota', async () => {
    await outside().refresh();
    for (const [mode, why] of [['down', 'http_503'], ['html', 'kma'], ['quota', 'kma'], ['slow', 'kma']] as const) {
      clock.advance(HOUR);
      kma.mode = mode;
      const started = Date.now();
      const result = await outside().refresh();
      expect(Date.now() - started, `${mode}: bounded by the timeout`).to.be.below(3000);
      expect(result, mode).to.deep.equal({ regions: 1, refreshed: 1, failed: 1 });
      const res = await get(node, seoulWalker, '/walk/outside');
      expect(res.status, mode).to.equal(200);
      expect(res.body.status, mode).to.equal('unavailable');
      expect(res.body.sources.weather.status, mode).to.equal('unavailable');
      expect(res.body.sources.weather.reason, mode).to.include(why);
      expect(res.body.sources.air.status, mode).to.equal('fresh');
      // The last good weather stays readable, with its age.
      expect(res.body.weather.temperatureC, mode).to.equal(12);
      expect(res.body.sources.weather.ageSeconds, mode).to.be.at.least(3600);
      expect(res.body.ageSeconds, mode).to.equal(res.body.sources.weather.ageSeconds);
    }
    // Back up: fresh again with the new values.
    kma.mode = 'up';
    kma.weather = { ...kma.weather, TMP: 31, PTY: 1 };
    clock.advance(HOUR);
    await outside().refresh();
    const res = await get(node, seoulWalker, '/walk/outside');
    expect(res.body.status).to.equal('fresh');
    expect(res.body.weather.temperatureC).to.equal(31);
    expect(res.body.walkingIndex.grade).to.equal('bad');
    expect(res.body.walkingIndex.reasons.map((r: { code: string }) => r.code)).to.deep.equal(['hot', 'precipitation']);
    kma.weather = { ...kma.weather, TMP: 12, PTY: 0 };
    // Not refreshed for over two hours: stale, still shown.
    clock.advance(3 * HOUR);
    const old = await get(node, seoulWalker, '/walk/outside');
    expect(old.body.status).to.equal('stale');
    expect(old.body.weather.temperatureC).to.equal(31);
  });

  it('says "not configured" without provider keys, and refuses a region it cannot place', async () => {
    const u = await walkerIn(bare, '서울', true);
    const res = await get(bare, u, '/walk/outside');
    expect(res.status).to.equal(200);
    expect(res.body.status).to.equal('unavailable');
    expect(res.body.sources.weather.reason).to.equal('not configured');
    expect(res.body.sources.air.reason).to.equal('not configured');
    const vets = await get(bare, u, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}`);
    expect(vets.status).to.equal(200);
    expect(vets.body).to.include({ status: 'unavailable', reason: 'not configured' });

    const unknown = await get(node, seoulWalker, `/walk/outside?region=${encodeURIComponent('Atlantis')}`);
    expect(unknown.status).to.equal(400);
    expect(unknown.body.code).to.equal('unknown_region');
    expect(unknown.body.errors?.[0]?.field ?? unknown.body.field).to.equal('region');
    const noRegion = await newUser(node);
    const none = await get(node, noRegion, '/walk/outside');
    expect(none.status).to.equal(400);
    expect(none.body.code).to.equal('no_region');
    for (const q of ['lat=91&lng=0', 'lat=37&lng=x', 'lat=37&lng=127&radiusM=5000', 'lng=127']) {
      const bad = await get(node, seoulWalker, `/walk/vets/nearby?${q}`);
      expect(bad.status, q).to.equal(400);
    }
  });

  it('two refreshes at once (two cron nodes) leave one row per region and kind', async () => {
    kma.mode = 'up';
    const [a, b] = await Promise.all([outside().refresh(), outside().refresh()]);
    expect(a.failed + b.failed).to.equal(0);
    const rows = await node.ctx.db.orm.em.fork().execute<{ region: string; kind: string; n: string }[]>(
      `select region, kind, count(*) as n from walk_outside_cache group by region, kind order by region, kind`);
    expect(rows.filter((r) => r.region === '서울').map((r) => [r.kind, r.n])).to.deep.equal([['air', '1'], ['weather', '1']]);
  });

  it('finds animal hospitals within the radius, nearest first, searching Kakao once a day per area', async () => {
    kakao.places = [
      { id: '101', name: '시청동물병원', ...north(120), phone: '02-111-1111' },
      { id: '102', name: '덕수궁 동물메디컬센터', ...north(420), keywords: ['동물병원'] },
      { id: '103', name: '광화문동물병원', ...north(900) },
      { id: '104', name: '시청 애견카페', ...north(60), keywords: ['카페'] },
    ];
    kakao.requests.length = 0;
    const first = await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}`);
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body.status).to.equal('fresh');
    expect(first.body.items.map((v: { id: string }) => v.id)).to.deep.equal(['101', '102']);
    expect(first.body.items[0].distanceM).to.be.within(115, 125);
    expect(first.body.items[0]).to.include({ name: '시청동물병원', phone: '02-111-1111' });
    expect(kakao.requests.length).to.be.at.least(1);
    expect(kakao.requests[0].headers.authorization).to.equal(`KakaoAK ${KAKAO_KEY}`);
    // Within a day the area is answered from the cache; a wider radius than it was searched for
    // searches again, once.
    let calls = kakao.requests.length;
    const near = await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat + 0.0005}&lng=${HALL.lng}&radiusM=300`);
    expect(near.body.items.map((v: { id: string }) => v.id)).to.deep.equal(['101']);
    expect(kakao.requests.length).to.equal(calls);
    const wide = await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}&radiusM=1000`);
    expect(wide.body.items.map((v: { id: string }) => v.id)).to.deep.equal(['101', '102', '103']);
    expect(kakao.requests.length).to.be.above(calls);
    calls = kakao.requests.length;
    await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}&radiusM=1000`);
    expect(kakao.requests.length).to.equal(calls);

    // A day later Kakao is down: the cached hospitals, marked unavailable with their age, no 5xx.
    clock.advance(25 * HOUR);
    kakao.mode = 'down';
    const down = await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}`);
    expect(down.status).to.equal(200);
    expect(down.body.status).to.equal('unavailable');
    expect(down.body.reason).to.be.a('string');
    expect(down.body.ageSeconds).to.be.at.least(25 * 3600);
    expect(down.body.items.map((v: { id: string }) => v.id)).to.deep.equal(['101', '102']);
    // Slow: the request gives up after the timeout and still answers.
    kakao.mode = 'slow';
    const started = Date.now();
    const slow = await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}`);
    expect(Date.now() - started).to.be.below(3000);
    expect(slow.body.status).to.equal('unavailable');
    // Up again: a complete answer drops a clinic Kakao no longer lists.
    kakao.mode = 'up';
    kakao.places = kakao.places.filter((p) => p.id !== '101');
    const up = await get(node, seoulWalker, `/walk/vets/nearby?lat=${HALL.lat}&lng=${HALL.lng}`);
    expect(up.body.status).to.equal('fresh');
    expect(up.body.items.map((v: { id: string }) => v.id)).to.deep.equal(['102']);
  });

  it('grades the walking index from weather and air', () => {
    const weather = { source: 'kma' as const, baseDate: '20261127', baseTime: '1700', nx: 60, ny: 127, forecastAt: '', temperatureC: 15, precipitationProbability: 0, precipitationType: 'none' as const, sky: 'clear' as const, humidity: 50, windMs: 1 };
    const clean = { source: 'airkorea' as const, sidoName: '서울', station: null, dataTime: null, pm10: 20, pm25: 10, khaiGrade: 1, stations: 3 };
    expect(walkingIndex(weather, clean)).to.deep.equal({ score: 100, grade: 'good', reasons: [] });
    expect(walkingIndex(weather, { ...clean, pm25: 80 })).to.include({ score: 50, grade: 'caution' });
    expect(walkingIndex({ ...weather, temperatureC: -10 }, clean)).to.include({ score: 70, grade: 'fair' });
    expect(walkingIndex({ ...weather, windMs: 12, precipitationProbability: 70 }, clean)).to.include({ score: 60, grade: 'fair' });
    expect(walkingIndex(null, clean).reasons.map((r) => r.code)).to.deep.equal(['no_weather']);
    expect(walkingIndex(null, null)).to.include({ score: null, grade: 'unknown' });
  });
});
