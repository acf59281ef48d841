// Walk badges (services/walk/badges.ts): the 47 seeded definitions, progress over trusted walks only,
// a badge earned and announced once when two evaluations race, the re-evaluation job after a rule
// change (stopped, crashed mid-pass and resumed from its cursor), and the routes.
//
// Walks are rows inserted with SQL (plus one real POST /walks); evaluations run through the walk hook
// or evaluateUser, as a new walk would.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { cronJobs } from '../../cron/index.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock, createTimeFormatter } from '../../services/time.ts';
import { inTransaction } from '../../services/transaction.ts';
import { BADGE_CATEGORIES, BADGE_DEFINITIONS } from '../../services/walk/badgeDefinitions.ts';
import { createBadgeService, seedBadgeDefinitions } from '../../services/walk/badges.ts';
import type { CompletedWalk } from '../../services/walk/walks.ts';
import { newUser, request, startNode, stopAllNodes, testModules, type TestUser } from '../helpers.ts';
import { walk as track } from '../tracks.ts';

const kst = (local: string) => new Date(`${local}+09:00`);

type WalkRow = { localDate: string; hour?: number; distanceM?: number; trusted?: boolean; lat?: number; lng?: number; region?: string | null; petIds?: string[]; photo?: boolean };

describe('walk badges', function () {
  this.timeout(30_000);
  const clock = createTestClock(kst('2026-11-26T21:00:00'));
  let node: ApiNode;
  const walk = () => moduleServices(node.services, walkModule);
  const db = () => node.ctx.db.orm.em.fork();

  before(async () => {
    node = await startNode({}, clock);
  });
  after(stopAllNodes);

  async function walker(): Promise<TestUser> {
    const u = await newUser(node);
    await db().execute(`insert into walk_profiles (user_id, nickname) values (?, ?)`, [u.id, u.username.slice(0, 30)]);
    return u;
  }

  async function addWalk(userId: string, w: WalkRow): Promise<CompletedWalk> {
    const id = crypto.randomUUID();
    const hour = w.hour ?? 10;
    const startedAt = kst(`${w.localDate}T${String(hour).padStart(2, '0')}:00:00`);
    const endedAt = new Date(startedAt.getTime() + 1800_000);
    const [lat, lng] = [w.lat ?? 37.5665, w.lng ?? 126.978];
    const distanceM = w.distanceM ?? 2000;
    const trusted = w.trusted ?? true;
    await db().execute(
      `insert into walks (id, user_id, client_walk_id, started_at, ended_at, local_date, local_hour, distance_m, duration_s, moving_time_s, calories,
                          point_count, route, min_lat, max_lat, min_lng, max_lng, start_lat, start_lng, region, trust_score, trusted, analysis)
       values (?, ?, ?, ?, ?, ?::date, ?, ?, 1800, 1700, 100, 10, '[]', ?, ?, ?, ?, ?, ?, ?, ?, ?, '{}')`,
      [id, userId, id, startedAt, endedAt, w.localDate, hour, distanceM, lat, lat, lng, lng, lat, lng, w.region ?? null, trusted ? 90 : 20, trusted],
    );
    for (const petId of w.petIds ?? []) await db().execute(`insert into walk_walk_pets (walk_id, pet_id) values (?, ?)`, [id, petId]);
    if (w.photo) await db().execute(`insert into walk_photos (id, walk_id, storage_key, width, height) values (?, ?, 'test/photo.webp', 300, 400)`, [crypto.randomUUID(), id]);
    return { id, userId, startedAt, endedAt, localDate: w.localDate, localHour: hour, distanceM, durationS: 1800, trusted, region: w.region ?? null, startLat: lat, startLng: lng, petIds: w.petIds ?? [] };
  }

  async function pet(ownerId: string, name: string): Promise<string> {
    const id = crypto.randomUUID();
    await db().execute(`insert into walk_pets (id, owner_id, name) values (?, ?, ?)`, [id, ownerId, name]);
    return id;
  }

  // What the walk service does after storing a walk: the hooks, in the walk's transaction.
  const completeWalk = (w: CompletedWalk) => inTransaction(db(), (tx) => walk().badges.onWalkComplete(tx, w));

  const get = async (u: TestUser, path: string) => {
    const res = await request(node, 'GET', path, { token: u.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const badgesOf = async (u: TestUser) => Object.fromEntries(((await get(u, '/badges')).items as { code: string }[]).map((b) => [b.code, b])) as Record<string, any>;
  const notices = async (userId: string) =>
    (await db().execute<{ data: { badgeCode: string } }[]>(`select data from notifications where user_id = ? and type = 'walk.badge_earned' order by id`, [userId])).map((r) => r.data.badgeCode);
  // Notifications are sent after the commit, without being awaited.
  async function eventually(check: () => Promise<unknown>, ms = 3000): Promise<void> {
    const until = Date.now() + ms;
    for (;;) {
      try {
        await check();
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        await new Promise((r) => setTimeout(r, 25));
      }
    }
  }
  const finishReevaluation = async () => {
    for (let i = 0; i < 100; i++) if ((await walk().badges.reevaluateAll()).finished) return;
    throw new Error('re-evaluation never finished');
  };

  it('is served by the test nodes (the walk module is in the module list)', () => {
    expect(testModules.map((m) => m.name)).to.include('walk');
  });

  it('seeds 47 badges with unique codes in 6 categories, idempotently', async () => {
    expect(BADGE_DEFINITIONS).to.have.length(47);
    expect(new Set(BADGE_DEFINITIONS.map((d) => d.code)).size).to.equal(47);
    expect(new Set(BADGE_DEFINITIONS.map((d) => d.category))).to.deep.equal(new Set(BADGE_CATEGORIES));
    for (const c of BADGE_CATEGORIES) expect(BADGE_DEFINITIONS.filter((d) => d.category === c).length, c).to.be.at.least(6);
    const stored = () => db().execute<{ code: string; rule_version: string; updated_at: Date }[]>(`select code, rule_version, updated_at from walk_badge_definitions where active order by code`);
    const before = await stored();
    expect(before).to.have.length(47);
    for (const d of BADGE_DEFINITIONS) expect(before.find((r) => r.code === d.code)?.rule_version, d.code).to.equal(d.ruleVersion);
    await seedBadgeDefinitions(db());
    await seedBadgeDefinitions(db());
    expect(await stored()).to.deep.equal(before);
  });

  it('counts trusted walks into every category\'s progress numbers', async () => {
    const u = await walker();
    const [kong, bori] = [await pet(u.id, '콩이'), await pet(u.id, '보리')];
    const walks = [
      await addWalk(u.id, { localDate: '2026-01-05', hour: 5, distanceM: 3500, petIds: [kong, bori], photo: true, region: '서울 마포구' }),
      await addWalk(u.id, { localDate: '2026-01-06', hour: 6, distanceM: 1500, petIds: [kong], lat: 37.60, region: '서울 마포구' }),
      await addWalk(u.id, { localDate: '2026-07-04', hour: 22, distanceM: 2000, lng: 127.05, region: '경기 성남시' }), // a Saturday
      await addWalk(u.id, { localDate: '2026-07-05', hour: 18, distanceM: 5200, photo: true, petIds: [bori], region: null }), // a Sunday
      await addWalk(u.id, { localDate: '2026-07-05', hour: 5, distanceM: 90_000, trusted: false, petIds: [kong], photo: true, lat: 35.1 }), // flagged: counts for nothing
    ];
    await db().execute(`update walk_profiles set current_streak = 2, longest_streak = 2 where user_id = ?`, [u.id]);
    for (const w of walks) await completeWalk(w);

    const b = await badgesOf(u);
    expect(Object.keys(b)).to.have.length(47);
    const brief = (code: string) => [b[code].status, b[code].current, b[code].target];
    expect(brief('DIST_010')).to.deep.equal(['earned', 12_200, 10_000]);
    expect(brief('DIST_020')).to.deep.equal(['in_progress', 12_200, 42_195]);
    expect(brief('DIST_090')).to.deep.equal(['earned', 5200, 5000]);
    expect(brief('DIST_100')).to.deep.equal(['in_progress', 5200, 10_000]);
    expect(brief('CNT_010')).to.deep.equal(['earned', 4, 1]);
    expect(brief('CNT_020')).to.deep.equal(['in_progress', 4, 10]);
    expect(brief('CNT_080')).to.deep.equal(['in_progress', 4, 100]);
    expect(brief('STRK_010')).to.deep.equal(['in_progress', 2, 3]);
    expect(brief('TIME_010')).to.deep.equal(['in_progress', 2, 10]); // 05:00 and 06:00, not the flagged one
    expect(brief('TIME_030')).to.deep.equal(['in_progress', 1, 30]);
    expect(brief('TIME_040')).to.deep.equal(['in_progress', 1, 10]);
    expect(brief('TIME_050')).to.deep.equal(['in_progress', 2, 30]);
    expect(brief('TIME_070')).to.deep.equal(['in_progress', 2, 20]);
    expect(brief('TIME_090')).to.deep.equal(['in_progress', 2, 20]);
    expect(brief('TIME_060')).to.deep.equal(['locked', 0, 20]);
    expect(brief('PLACE_010')).to.deep.equal(['in_progress', 3, 5]); // 07-05 starts in the first walk's cell
    expect(brief('PLACE_050')).to.deep.equal(['in_progress', 2, 3]);
    expect(brief('SOCL_010')).to.deep.equal(['in_progress', 3, 50]);
    expect(brief('SOCL_020')).to.deep.equal(['earned', 2, 2]);
    expect(brief('SOCL_030')).to.deep.equal(['in_progress', 1, 10]);
    expect(brief('SOCL_040')).to.deep.equal(['earned', 2, 1]);
    expect(brief('SOCL_060')).to.deep.equal(['locked', 0, 1]);
    expect(b.CNT_010.earnedAt).to.equal('2026-11-26T21:00:00+09:00');
    expect(b.DIST_020.earnedAt).to.equal(null);

    const time = await get(u, '/badges?category=time');
    expect(time.items.map((i: { code: string }) => i.code)).to.deep.equal(['TIME_010', 'TIME_020', 'TIME_030', 'TIME_040', 'TIME_050', 'TIME_060', 'TIME_070', 'TIME_080', 'TIME_090']);
    expect(await get(u, '/badges/DIST_090')).to.deep.include({ code: 'DIST_090', category: 'distance', name: '먼 산책', status: 'earned', current: 5200, target: 5000 });

    await eventually(async () => expect((await notices(u.id)).sort()).to.deep.equal(['CNT_010', 'DIST_010', 'DIST_080', 'DIST_090', 'SOCL_020', 'SOCL_040']));
    const earned = await get(u, `/walk/users/${u.id}/badges`);
    expect(earned.items.map((i: { code: string }) => i.code).sort()).to.deep.equal(['CNT_010', 'DIST_010', 'DIST_080', 'DIST_090', 'SOCL_020', 'SOCL_040']);
  });

  it('lets an untrusted walk change nothing, and shows a walker without walks every badge locked', async () => {
    const u = await walker();
    const flagged = await addWalk(u.id, { localDate: '2026-03-02', distanceM: 50_000, trusted: false });
    await completeWalk(flagged);
    expect((await db().execute(`select 1 from walk_user_badges where user_id = ?`, [u.id]))).to.have.length(0);
    // Evaluated anyway (a trusted walk later): the flagged one still counts for nothing.
    await walk().badges.evaluateUser(u.id);
    const b = await badgesOf(u);
    expect(Object.values(b).every((x: any) => x.status === 'locked' && x.current === 0 && x.earnedAt === null)).to.equal(true);
    expect(await notices(u.id)).to.deep.equal([]);
  });

  it('earns a badge once, announced once, when two evaluations of one walker race', async () => {
    const u = await walker();
    await addWalk(u.id, { localDate: '2026-04-01', distanceM: 11_000 });
    const told: string[] = [];
    const badges = createBadgeService({
      em: node.ctx.db.orm.em, clock, time: createTimeFormatter('Asia/Seoul'), logger: node.ctx.logger,
      notify: async (_userId, input) => void told.push(String(input.data.badgeCode)),
    });
    // The first evaluation writes its rows and holds its transaction open; the second reads the same
    // walks, decides the same badges are due, and its upsert waits on the first's rows.
    let evaluated!: () => void;
    const firstEvaluated = new Promise<void>((r) => (evaluated = r));
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const first = inTransaction(db(), async (tx) => {
      const e = await badges.evaluate(tx, [u.id]);
      evaluated();
      await gate;
      return e;
    });
    await firstEvaluated;
    // Another walk lands meanwhile, so the second sees other numbers and really rewrites the rows.
    await addWalk(u.id, { localDate: '2026-04-01', hour: 18, distanceM: 500 });
    const second = inTransaction(db(), (tx) => badges.evaluate(tx, [u.id]));
    await eventually(async () => {
      const waiting = await db().execute(`select 1 from pg_stat_activity where wait_event_type = 'Lock' and query like '%insert into walk_user_badges%'`);
      expect(waiting).to.have.length.at.least(1);
    });
    expect(told).to.deep.equal([]); // nothing is announced before the commit
    release();
    const [a, b] = await Promise.all([first, second]);
    const expected = ['CNT_010', 'DIST_010', 'DIST_080', 'DIST_090', 'DIST_100'];
    expect(a.map((e) => e.code).sort()).to.deep.equal(expected);
    expect(b).to.deep.equal([]);
    expect(told.sort()).to.deep.equal(expected);
    expect((await badges.evaluateUser(u.id))).to.deep.equal([]);
    const [count] = await db().execute<{ current: string }[]>(`select current from walk_user_badges where user_id = ? and badge_code = 'CNT_010'`, [u.id]);
    expect(Number(count.current)).to.equal(2); // the second evaluation's numbers, the first's earning

    // And a pile of concurrent ones for a new badge: one earner among them.
    await addWalk(u.id, { localDate: '2026-04-02', distanceM: 1000 });
    await db().execute(`update walk_profiles set longest_streak = 3, current_streak = 3 where user_id = ?`, [u.id]);
    const results = await Promise.all(Array.from({ length: 6 }, () => badges.evaluateUser(u.id)));
    expect(results.flat().map((e) => e.code)).to.deep.equal(['STRK_010']);
    expect(told.filter((c) => c === 'STRK_010')).to.have.length(1);
    const [row] = await db().execute<{ n: string }[]>(`select count(*) as n from walk_user_badges where user_id = ? and status = 'earned'`, [u.id]);
    expect(Number(row.n)).to.equal(6);
  });

  it('counts walk-together sessions joined with someone else for the social badges', async () => {
    const [u, friend, alone] = [await walker(), await walker(), await walker()];
    const session = crypto.randomUUID();
    const solo = crypto.randomUUID();
    await db().execute(`insert into walk_sessions (id, created_by) values (?, ?), (?, ?)`, [session, u.id, solo, alone.id]);
    await db().execute(`insert into walk_session_participants (session_id, user_id, joined_at) values (?, ?, now()), (?, ?, now()), (?, ?, now())`, [session, u.id, session, friend.id, solo, alone.id]);
    for (const x of [u, friend, alone]) await completeWalk(await addWalk(x.id, { localDate: '2026-05-01' }));
    expect((await get(u, '/badges/SOCL_060')).status).to.equal('earned');
    expect((await get(friend, '/badges/SOCL_070')).current).to.equal(1);
    expect((await get(alone, '/badges/SOCL_060')).status).to.equal('locked');
  });

  it('earns the first-walk badge through POST /walks, told once in the inbox', async () => {
    const u = await newUser(node);
    const points = track({ distanceM: 2000, speedKmh: 5, seed: 901, t0: Date.parse('2026-11-25T07:00:00+09:00') });
    const res = await request(node, 'POST', '/walks', { token: u.accessToken, body: { clientWalkId: 'badge-1', points } });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.trusted, JSON.stringify(res.body.trustReasons)).to.equal(true);
    expect((await get(u, '/badges/CNT_010')).status).to.equal('earned');
    // A retry of the same walk moves nothing.
    expect((await request(node, 'POST', '/walks', { token: u.accessToken, body: { clientWalkId: 'badge-1', points } })).status).to.be.oneOf([200, 201]);
    await eventually(async () => expect(await notices(u.id)).to.deep.equal(['CNT_010']));
  });

  it('re-evaluates everyone after a rule change: stopped, crashed mid-pass, resumed, earned stays earned', async () => {
    await finishReevaluation(); // whatever earlier changes left (a fresh database's first pass)
    const [a, b] = [await walker(), await walker()];
    for (const u of [a, b]) await completeWalk(await addWalk(u.id, { localDate: '2026-06-01', distanceM: 3000 }));
    expect((await get(a, '/badges/DIST_010')).status).to.equal('in_progress');
    expect((await get(a, '/badges/CNT_010')).status).to.equal('earned');
    expect(await walk().badges.reevaluateAll()).to.deep.equal({ stale: 0, users: 0, finished: true });

    // A release lowers one target and raises another (as its seed would write them).
    const setRule = (code: string, rule: object) => db().execute(`update walk_badge_definitions set rule = ?::jsonb, rule_version = ? where code = ?`, [JSON.stringify(rule), `test-${crypto.randomUUID().slice(0, 8)}`, code]);
    await setRule('DIST_010', { metric: 'total_distance_m', target: 2500 });
    await setRule('CNT_010', { metric: 'walk_count', target: 5 });
    const [{ n: walkers }] = await db().execute<{ n: string }[]>(`select count(distinct user_id) as n from walks where trusted`);
    expect(Number(walkers)).to.be.at.least(3);
    const cursor = async () => (await db().execute<{ users_done: number; after_user_id: string | null; finished_at: Date | null }[]>(`select users_done, after_user_id, finished_at from walk_badge_reevaluations where name = 'all'`))[0];

    // Stopped after one walker (a run's bound).
    const stopped = await walk().badges.reevaluateAll({ maxUsers: 1 });
    expect(stopped).to.deep.equal({ stale: 2, users: 1, finished: false });
    expect(await cursor()).to.deep.include({ users_done: 1, finished_at: null });

    // Crashed: the second batch dies before it commits (a trigger stands in for the crash). Its
    // walker's rows and notifications go with it; the cursor stays after the first walker.
    const told: string[] = [];
    const small = createBadgeService({
      em: node.ctx.db.orm.em, clock, time: createTimeFormatter('Asia/Seoul'), logger: node.ctx.logger, reevaluation: { batchSize: 1 },
      // The real inbox: a walker this pass reaches first is told by it, not by the job's next run.
      notify: async (userId, input) => {
        told.push(userId);
        return node.services.notifications.notify(userId, { ...input, category: 'walk' });
      },
    });
    await db().execute(`create function test_badge_crash() returns trigger language plpgsql as $$ begin if new.users_done >= 3 then raise exception 'simulated crash'; end if; return new; end $$`);
    await db().execute(`create trigger test_badge_crash before update on walk_badge_reevaluations for each row execute function test_badge_crash()`);
    try {
      let crashed: unknown;
      await small.reevaluateAll().catch((err: unknown) => (crashed = err));
      expect(String(crashed)).to.match(/simulated crash/);
    } finally {
      await db().execute(`drop trigger test_badge_crash on walk_badge_reevaluations`);
      await db().execute(`drop function test_badge_crash()`);
    }
    const afterCrash = await cursor();
    expect(afterCrash).to.deep.include({ users_done: 2, finished_at: null });
    const [third] = await db().execute<{ user_id: string }[]>(`select distinct user_id from walks where trusted and user_id > ? order by user_id limit 1`, [afterCrash.after_user_id]);
    const [thirdRow] = await db().execute<{ target: string }[]>(`select target from walk_user_badges where user_id = ? and badge_code = 'DIST_010'`, [third.user_id]);
    if (thirdRow) expect(Number(thirdRow.target)).to.equal(10_000); // rolled back with its batch

    // The next run of the cron job takes it from there to the end, nobody twice.
    const job = cronJobs(node.services).find((j) => j.name === 'walk-badges-reevaluate')!;
    expect(job.schedule).to.equal('*/10 * * * *');
    const result = await job.run({ em: db(), logger: node.ctx.logger, signal: new AbortController().signal });
    expect(result).to.deep.equal({ stale: 2, users: Number(walkers) - 2, finished: true });
    expect(await cursor()).to.deep.include({ users_done: Number(walkers) });
    expect((await cursor()).finished_at).to.not.equal(null);
    const [{ n: pending }] = await db().execute<{ n: string }[]>(`select count(*) as n from walk_badge_definitions where active and applied_version is distinct from rule_version`);
    expect(Number(pending)).to.equal(0);

    for (const u of [a, b]) {
      // The lowered target earns (and tells); the raised one keeps what was earned, with the new numbers.
      expect(await get(u, '/badges/DIST_010')).to.deep.include({ status: 'earned', current: 3000, target: 2500 });
      expect(await get(u, '/badges/CNT_010')).to.deep.include({ status: 'earned', current: 1, target: 5 });
      await eventually(async () => expect((await notices(u.id)).sort()).to.deep.equal(['CNT_010', 'DIST_010', 'DIST_080']));
    }
    expect(await walk().badges.reevaluateAll()).to.deep.equal({ stale: 0, users: 0, finished: true });

    // The next release's seed puts the rules back; the job applies them in turn.
    await seedBadgeDefinitions(db());
    await finishReevaluation();
    expect(await get(a, '/badges/DIST_010')).to.deep.include({ status: 'earned', current: 3000, target: 10_000 });
    expect(await get(a, '/badges/CNT_010')).to.deep.include({ status: 'earned', current: 1, target: 1 });
  });

  it('refuses bad input with 400 naming the field, unknown ones with 404, strangers with 401', async () => {
    const u = await walker();
    for (const [path, field] of [
      ['/badges?category=food', 'category'],
      ['/badges/dist_010', 'code'],
      ['/badges/DIST_0100', 'code'],
      ['/walk/users/not-a-uuid/badges', 'id'],
    ] as const) {
      const res = await request(node, 'GET', path, { token: u.accessToken });
      expect(res.status, path).to.equal(400);
      expect(res.body.errors[0].field, path).to.equal(field);
    }
    expect((await request(node, 'GET', '/badges/ZZZ_999', { token: u.accessToken })).status).to.equal(404);
    expect((await request(node, 'GET', `/walk/users/${crypto.randomUUID()}/badges`, { token: u.accessToken })).status).to.equal(404);
    expect((await get(u, `/walk/users/${u.id}/badges`)).items).to.deep.equal([]);
    for (const path of ['/badges', '/badges/DIST_010', `/walk/users/${u.id}/badges`]) expect((await request(node, 'GET', path)).status, path).to.equal(401);
  });
});
