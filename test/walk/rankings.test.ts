// Walk rankings (services/walk/rankings.ts): the hourly window-function recompute over trusted walks
// on a test clock (ties, KST week boundary, regions, friends, around-me at the edges), the hall of
// fame written once per closed period even by concurrent recomputes, the live boards fed by the
// walk-complete hook, and the routes' validation.
//
// Walks are rows inserted with SQL. Each case lives in its own KST week of 2030 (and its own region),
// so walks other test files store today never enter its week, and its checks stand alone.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { cronJobs } from '../../cron/index.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock, type TestClock } from '../../services/time.ts';
import { inTransaction } from '../../services/transaction.ts';
import type { CompletedWalk } from '../../services/walk/walks.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const kst = (local: string) => new Date(`${local}+09:00`);

describe('walk rankings', function () {
  let node: ApiNode;
  let clock: TestClock;
  const walk = () => moduleServices(node.services, walkModule);
  const db = () => node.ctx.db.orm.em.fork();

  before(async () => {
    clock = createTestClock(kst('2030-03-06T12:00:00'));
    node = await startNode({}, clock);
  });
  after(() => stopAllNodes());

  const region = () => `test-${crypto.randomBytes(4).toString('hex')}`;

  async function walker(nickname: string, regionName: string | null): Promise<TestUser> {
    const u = await newUser(node);
    await db().execute(`insert into walk_profiles (user_id, nickname, region) values (?, ?, ?)`, [u.id, nickname, regionName]);
    return u;
  }

  async function addWalk(userId: string, localDate: string, distanceM: number, trusted = true): Promise<void> {
    await db().execute(
      `insert into walks (id, user_id, client_walk_id, started_at, ended_at, local_date, local_hour, distance_m, duration_s, moving_time_s, calories,
                          point_count, route, min_lat, max_lat, min_lng, max_lng, start_lat, start_lng, region, trust_score, trusted, analysis)
       values (gen_random_uuid(), ?, ?, ?, ?, ?::date, 10, ?, 1800, 1700, 100, 10, '[]', 37.5, 37.6, 127, 127.1, 37.5, 127, null, ?, ?, '{}')`,
      [userId, crypto.randomUUID(), kst(`${localDate}T10:00:00`), kst(`${localDate}T10:30:00`), localDate, distanceM, trusted ? 90 : 20, trusted],
    );
  }

  const get = async (u: TestUser, path: string) => {
    const res = await request(node, 'GET', path, { token: u.accessToken });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    return res.body;
  };
  const brief = (items: { userId: string; rank: number; position: number; value: number }[]) => items.map((i) => [i.userId, i.rank, i.position, i.value]);
  const byId = (...users: TestUser[]) => users.map((u) => u.id).sort();

  it('ranks trusted walks only, ties sharing a rank and listed by user id, by distance and by count', async () => {
    clock.set(kst('2030-03-06T12:00:00')); // a Wednesday; the week began Monday 2030-03-04
    const r = region();
    const [a, b, c, d] = [await walker('a', r), await walker('b', r), await walker('c', r), await walker('d', r)];
    await addWalk(a.id, '2030-03-04', 1000);
    await addWalk(a.id, '2030-03-05', 2000);
    await addWalk(b.id, '2030-03-06', 3000);
    await addWalk(c.id, '2030-03-05', 5000);
    await addWalk(c.id, '2030-03-05', 90_000, false); // untrusted: counts for nothing
    await addWalk(d.id, '2030-03-06', 1000);
    await addWalk(d.id, '2030-03-07', 50_000); // tomorrow, on the test clock: not yet
    await addWalk(d.id, '2030-03-03', 70_000); // the Sunday before: last week
    const result = await walk().rankings.recompute();
    expect(result.periods).to.deep.equal({ week: '2030-03-04', month: '2030-03-01' });

    const [ab1, ab2] = byId(a, b);
    const distance = await get(a, `/rankings/walks?period=week&metric=distance&scope=region`);
    expect(distance.period).to.deep.equal({ kind: 'week', start: '2030-03-04' });
    expect(distance.computedAt).to.equal(kst('2030-03-06T12:00:00').toISOString());
    expect(brief(distance.items)).to.deep.equal([[c.id, 1, 1, 5000], [ab1, 2, 2, 3000], [ab2, 2, 3, 3000], [d.id, 4, 4, 1000]]);
    expect(distance.items[0].nickname).to.equal('c');
    expect(distance.mine).to.deep.include({ userId: a.id, rank: 2, value: 3000 });

    const [bcd1, bcd2, bcd3] = byId(b, c, d);
    const count = await get(a, `/rankings/walks?period=week&metric=count&scope=region`);
    expect(brief(count.items)).to.deep.equal([[a.id, 1, 1, 2], [bcd1, 2, 2, 1], [bcd2, 2, 3, 1], [bcd3, 2, 4, 1]]);

    // Nobody else walked in this week of 2030: the whole field is the same four.
    const whole = await get(a, `/rankings/walks?period=week&metric=distance&scope=all&limit=2`);
    expect(brief(whole.items)).to.deep.equal([[c.id, 1, 1, 5000], [ab1, 2, 2, 3000]]);
    expect(whole.mine).to.deep.include({ userId: a.id, rank: 2 });
    // All time counts the Sunday before (and never the future walk).
    const all = await get(d, `/rankings/walks?period=all&metric=distance&scope=region`);
    expect(all.mine).to.deep.include({ value: 71_000, rank: 1 });
    expect(all.period).to.deep.equal({ kind: 'all', start: '1970-01-01' });
  });

  it('swaps in a table with the migration\'s own indexes, so reads keep their plans and names', async () => {
    const indexes = async () => (await db().execute<{ indexname: string; indexdef: string }[]>(
      `select indexname, indexdef from pg_indexes where tablename = 'walk_rankings' order by indexname`)).map((r) => `${r.indexname}: ${r.indexdef}`);
    const before = await indexes();
    expect(before).to.have.length(3);
    await walk().rankings.recompute();
    await walk().rankings.recompute();
    expect(await indexes()).to.deep.equal(before);
    expect(await db().execute(`select 1 from pg_class where relname = 'walk_rankings_next'`)).to.have.length(0);
  });

  it('ranks a region within itself and friends among themselves', async () => {
    clock.set(kst('2030-04-10T12:00:00'));
    const [here, there] = [region(), region()];
    const me = await walker('me', here);
    const [h1, h2] = [await walker('h1', here), await walker('h2', here)];
    const [t1, t2] = [await walker('t1', there), await walker('t2', there)];
    const lonely = await walker('lonely', null);
    for (const [u, m] of [[me, 4000], [h1, 6000], [h2, 1000], [t1, 9000], [t2, 8000], [lonely, 7000]] as const) await addWalk(u.id, '2030-04-09', m);
    // I follow t2 and h2; t1 follows me (that makes t1 no friend of mine).
    await db().execute(`insert into walk_follows (follower_id, followee_id) values (?, ?), (?, ?), (?, ?)`, [me.id, t2.id, me.id, h2.id, t1.id, me.id]);
    await walk().rankings.recompute();

    const local = await get(me, '/rankings/walks?scope=region');
    expect(brief(local.items)).to.deep.equal([[h1.id, 1, 1, 6000], [me.id, 2, 2, 4000], [h2.id, 3, 3, 1000]]);
    expect(local.mine).to.deep.include({ rank: 2, position: 2 });
    const theirs = await get(t2, '/rankings/walks?scope=region');
    expect(brief(theirs.items)).to.deep.equal([[t1.id, 1, 1, 9000], [t2.id, 2, 2, 8000]]);
    // The whole field of the week: everyone, the walker without a region too.
    const whole = await get(me, '/rankings/walks?scope=all');
    expect(whole.items.map((i: { userId: string }) => i.userId)).to.deep.equal([t1.id, t2.id, lonely.id, h1.id, me.id, h2.id]);
    expect(whole.mine).to.deep.include({ rank: 5 });

    const friends = await get(me, '/rankings/walks?scope=friends');
    expect(brief(friends.items)).to.deep.equal([[t2.id, 1, 1, 8000], [me.id, 2, 2, 4000], [h2.id, 3, 3, 1000]]);
    expect(friends.mine).to.deep.include({ rank: 2 });
    const friendsTop1 = await get(me, '/rankings/walks?scope=friends&limit=1');
    expect(brief(friendsTop1.items)).to.deep.equal([[t2.id, 1, 1, 8000]]);
    expect(friendsTop1.mine).to.deep.include({ userId: me.id, rank: 2 });
    // Following nobody: a circle of one.
    const alone = await get(t2, '/rankings/walks?scope=friends');
    expect(brief(alone.items)).to.deep.equal([[t2.id, 1, 1, 8000]]);

    // No region in the profile: the regional view says which field to fix.
    const refused = await request(node, 'GET', '/rankings/walks?scope=region', { token: lonely.accessToken });
    expect(refused.status).to.equal(400);
    expect(refused.body.code).to.equal('no_region');
    expect(refused.body.errors[0].field).to.equal('scope');
  });

  it('answers around me with neighbours above and below, fewer at the edges, none without a walk', async () => {
    clock.set(kst('2030-05-08T12:00:00'));
    const r = region();
    const users: TestUser[] = [];
    for (let i = 0; i < 7; i++) {
      users.push(await walker(`w${i}`, r));
      await addWalk(users[i].id, '2030-05-07', 10_000 - i * 1000); // w0 first … w6 last
    }
    const idle = await walker('idle', r);
    await walk().rankings.recompute();
    const around = async (u: TestUser, span: number) => {
      const body = await get(u, `/rankings/walks/around-me?scope=region&span=${span}`);
      return { ids: body.items.map((i: { userId: string }) => i.userId), positions: body.items.map((i: { position: number }) => i.position), mine: body.mine };
    };
    const top = await around(users[0], 2);
    expect(top.ids).to.deep.equal(users.slice(0, 3).map((u) => u.id));
    expect(top.mine).to.deep.include({ rank: 1, position: 1 });
    const bottom = await around(users[6], 2);
    expect(bottom.ids).to.deep.equal(users.slice(4).map((u) => u.id));
    expect(bottom.mine).to.deep.include({ rank: 7 });
    const middle = await around(users[3], 2);
    expect(middle.ids).to.deep.equal(users.slice(1, 6).map((u) => u.id));
    expect(middle.positions).to.deep.equal([2, 3, 4, 5, 6]);
    const wide = await around(users[3], 25);
    expect(wide.ids).to.have.length(7);
    const none = await around(idle, 5);
    expect(none).to.deep.equal({ ids: [], positions: [], mine: null });
    // The whole field and friends answer the same shape: mine in the middle of consecutive positions.
    const whole = await get(users[3], '/rankings/walks/around-me?scope=all&span=1');
    expect(whole.items.map((i: { position: number }) => i.position)).to.deep.equal([3, 4, 5]);
    expect(whole.items[1].userId).to.equal(users[3].id);
    await db().execute(`insert into walk_follows (follower_id, followee_id) values (?, ?), (?, ?)`, [users[3].id, users[0].id, users[3].id, users[6].id]);
    const friends = await get(users[3], '/rankings/walks/around-me?scope=friends&span=1');
    expect(brief(friends.items)).to.deep.equal([[users[0].id, 1, 1, 10_000], [users[3].id, 2, 2, 7000], [users[6].id, 3, 3, 4000]]);
  });

  it('moves to the new week at Monday 00:00 KST and writes the closed week to the hall of fame once, even from concurrent recomputes', async () => {
    const r = region();
    const [sun, mon, both] = [await walker('sun', r), await walker('mon', r), await walker('both', r)];
    await addWalk(sun.id, '2030-06-16', 3000); // Sunday
    await addWalk(both.id, '2030-06-16', 2000);
    await addWalk(both.id, '2030-06-17', 1000); // Monday
    await addWalk(mon.id, '2030-06-17', 4000);

    clock.set(kst('2030-06-16T23:59:59'));
    await walk().rankings.recompute();
    let week = await get(sun, '/rankings/walks?scope=region');
    expect(week.period.start).to.equal('2030-06-10');
    expect(brief(week.items)).to.deep.equal([[sun.id, 1, 1, 3000], [both.id, 2, 2, 2000]]);

    clock.set(kst('2030-06-17T00:00:00'));
    const atMidnight = await walk().rankings.recompute();
    expect(atMidnight.periods.week).to.equal('2030-06-17');
    week = await get(sun, '/rankings/walks?scope=region');
    expect(week.period.start).to.equal('2030-06-17');
    expect(brief(week.items)).to.deep.equal([[mon.id, 1, 1, 4000], [both.id, 2, 2, 1000]]);
    expect(week.mine).to.equal(null);
    // June goes on: the month still holds Sunday.
    const month = await get(sun, '/rankings/walks?period=month&scope=region');
    const [tie1, tie2] = byId(sun, both);
    expect(brief(month.items)).to.deep.equal([[mon.id, 1, 1, 4000], [tie1, 2, 2, 3000], [tie2, 2, 3, 3000]]);
    // The week closes an hour after it ended (late uploads still count), not at midnight.
    expect(atMidnight.closed.filter((c) => c.period === 'week')).to.deep.equal([]);

    // A late upload of a Sunday walk, in the grace hour: it counts for the closed week.
    await addWalk(mon.id, '2030-06-16', 500);
    clock.set(kst('2030-06-17T01:00:00'));
    const runs = await Promise.all([walk().rankings.recompute(), walk().rankings.recompute(), walk().rankings.recompute()]);
    const weekCloses = runs.flatMap((run) => run.closed.filter((c) => c.period === 'week' && c.start === '2030-06-10'));
    expect(weekCloses).to.have.length(1);
    expect(weekCloses[0].winners).to.equal(6); // three walkers × two metrics
    clock.advance(3600_000);
    const later = await walk().rankings.recompute();
    expect(later.closed).to.deep.equal([]);

    const rows = await db().execute<{ n: string }[]>(`select count(*) as n from walk_hall_of_fame where period_kind = 'week' and period_start = '2030-06-10'`);
    expect(Number(rows[0].n)).to.equal(6);
    const fame = await get(sun, '/rankings/walks/hall-of-fame?period=week&metric=distance&limit=1');
    expect(fame.items).to.have.length(1);
    expect(fame.items[0].period).to.deep.equal({ kind: 'week', start: '2030-06-10' });
    expect(fame.items[0].winners.map((w: { userId: string; rank: number; value: number }) => [w.userId, w.rank, w.value])).to.deep.equal([[sun.id, 1, 3000], [both.id, 2, 2000], [mon.id, 3, 500]]);
    expect(fame.items[0].winners[0].nickname).to.equal('sun');
    expect(fame.nextBefore).to.equal('2030-06-10');
    const counts = await get(sun, '/rankings/walks/hall-of-fame?period=week&metric=count&limit=1');
    const [s1, s2, s3] = byId(sun, mon, both);
    expect(counts.items[0].winners.map((w: { userId: string; rank: number }) => [w.userId, w.rank]).sort()).to.deep.equal([[s1, 1], [s2, 1], [s3, 1]]);
    // Older pages: the weeks closed by the earlier cases (empty ones are not listed).
    const older = await get(sun, '/rankings/walks/hall-of-fame?period=week&metric=distance&before=2030-06-10&limit=52');
    expect(older.items.every((i: { period: { start: string } }) => i.period.start < '2030-06-10')).to.equal(true);
    expect(older.nextBefore).to.equal(null);
    // May closed too (the around-me case walked in it): its best is that case's w0.
    const may = await get(sun, '/rankings/walks/hall-of-fame?period=month&metric=distance&before=2030-06-01&limit=1');
    expect(may.items[0].period.start).to.equal('2030-05-01');
    expect(may.items[0].winners.length).to.be.at.least(7);
  });

  it('keeps the hall of fame to the top N, ties at the cut included', async () => {
    const r = region();
    const users: TestUser[] = [];
    for (let i = 0; i < 12; i++) users.push(await walker(`t${i}`, r));
    // 2030-07-01 is a Monday; distances 12000 … 3000, then two tied at the 10th value.
    for (let i = 0; i < 10; i++) await addWalk(users[i].id, '2030-07-02', 12_000 - i * 1000);
    await addWalk(users[10].id, '2030-07-02', 3000);
    await addWalk(users[11].id, '2030-07-02', 1000);
    clock.set(kst('2030-07-08T01:00:00'));
    await walk().rankings.recompute();
    const fame = await get(users[0], '/rankings/walks/hall-of-fame?period=week&metric=distance&limit=1');
    expect(fame.items[0].period.start).to.equal('2030-07-01');
    const winners = fame.items[0].winners.map((w: { userId: string; rank: number }) => w.rank);
    expect(winners).to.deep.equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 10]);
    expect(fame.items[0].winners.map((w: { userId: string }) => w.userId)).not.to.include(users[11].id);
  });

  it('feeds the live boards from trusted walks once they commit', async () => {
    clock.set(kst('2030-08-14T12:00:00'));
    const r = region();
    const [fast, cheat, rolled] = [await walker('fast', r), await walker('cheat', r), await walker('rolled', r)];
    const completed = (u: TestUser, trusted: boolean, distanceM: number): CompletedWalk => ({
      id: crypto.randomUUID(), userId: u.id, startedAt: kst('2030-08-14T10:00:00'), endedAt: kst('2030-08-14T10:30:00'), localDate: '2030-08-14', localHour: 10,
      distanceM, durationS: 1800, trusted, region: r, startLat: 37.5, startLng: 127, petIds: [],
    });
    await walk().rankings.onWalkComplete(db(), completed(fast, true, 4321));
    await walk().rankings.onWalkComplete(db(), completed(cheat, false, 99_999));
    await inTransaction(db(), async (tx) => {
      await walk().rankings.onWalkComplete(tx, completed(rolled, true, 5555));
      throw new Error('the walk rolls back');
    }).catch(() => undefined);
    let live: { mine: { rank: number; value: number } | null; items: { userId: string; nickname: string | null; value: number }[]; period: { start: string } };
    for (;;) {
      live = await get(fast, '/rankings/walks/live?period=day&metric=distance');
      if (live.mine) break;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(live.period.start).to.equal('2030-08-14');
    expect(live.mine.value).to.equal(4321);
    expect(live.items.find((i) => i.userId === fast.id)).to.deep.include({ nickname: 'fast', value: 4321 });
    const liveCount = await get(fast, '/rankings/walks/live?period=week&metric=count');
    expect(liveCount.mine).to.deep.include({ value: 1 });
    expect((await get(cheat, '/rankings/walks/live?period=day')).mine).to.equal(null);
    expect((await get(rolled, '/rankings/walks/live?period=day')).mine).to.equal(null);
  });

  it('declares the hourly cron job, which recomputes', async () => {
    const job = cronJobs(node.services).find((j) => j.name === 'walk-rankings-recompute');
    expect(job?.schedule).to.equal('5 * * * *');
    const result = await job!.run({ em: db(), logger: node.ctx.logger, signal: new AbortController().signal });
    expect(result).to.have.property('rows').that.is.a('number');
  });

  it('refuses bad parameters with 400 naming the field, and strangers with 401', async () => {
    const u = await walker('params', region());
    for (const [path, field] of [
      ['/rankings/walks?period=year', 'period'],
      ['/rankings/walks?metric=steps', 'metric'],
      ['/rankings/walks?scope=world', 'scope'],
      ['/rankings/walks?limit=101', 'limit'],
      ['/rankings/walks?limit=0', 'limit'],
      ['/rankings/walks/around-me?span=0', 'span'],
      ['/rankings/walks/around-me?span=26', 'span'],
      ['/rankings/walks/hall-of-fame?period=all', 'period'],
      ['/rankings/walks/hall-of-fame?before=2030-02-30', 'before'],
      ['/rankings/walks/hall-of-fame?limit=53', 'limit'],
      ['/rankings/walks/live?period=year', 'period'],
    ] as const) {
      const res = await request(node, 'GET', path, { token: u.accessToken });
      expect(res.status, path).to.equal(400);
      expect(res.body.errors[0].field, path).to.equal(field);
    }
    expect((await request(node, 'GET', '/rankings/walks')).status).to.equal(401);
    // Chat's rankings still answer at their own paths.
    expect((await request(node, 'GET', '/rankings/characters', { token: u.accessToken })).status).to.equal(200);
  });
});
