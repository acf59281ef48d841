// The walk app's seven push types through the platform's orchestrator, on the offline push driver
// (offline_outbox): follows, likes and comments, badges, invitations, meetup changes, the weekly
// ranking result and the walk reminder; each type's switch, quiet hours and per-type push limits;
// the reminder's usual hour, "walked today" and once a day under two concurrent runs; the ranking
// result once per walker under two concurrent runs.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { cronJobs } from '../../cron/index.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { newUser, request, settled, startNode, stopAllNodes, type TestUser } from '../helpers.ts';
import { walk as track } from '../tracks.ts';

const kst = (local: string) => new Date(`${local}+09:00`);
const SEVEN = ['walk.badge_earned', 'walk.invitation', 'walk.meetup_changed', 'walk.new_follower', 'walk.ranking_result', 'walk.reaction', 'walk.reminder'];

describe('walk: push notifications', function () {
  this.timeout(60_000);
  // A Monday morning: last week (2029-03-05 to 03-11) closed at 01:00, and 09:35 is in hour 10's reminder window.
  const clock = createTestClock(kst('2029-03-12T09:35:00'));
  let node: ApiNode;
  before(async () => {
    node = await startNode({}, clock);
    expect(node.ctx.push.offline).to.equal(true);
  });
  after(stopAllNodes);

  const services = () => moduleServices(node.services, walkModule);
  const db = () => node.ctx.db.orm.em.fork();
  const as = (u: TestUser) => ({
    get: (path: string) => request(node, 'GET', path, { token: u.accessToken }),
    post: (path: string, body?: unknown) => request(node, 'POST', path, { token: u.accessToken, body }),
    put: (path: string, body?: unknown) => request(node, 'PUT', path, { token: u.accessToken, body }),
    patch: (path: string, body?: unknown) => request(node, 'PATCH', path, { token: u.accessToken, body }),
  });
  let seq = 0;
  async function walker(): Promise<TestUser> {
    const u = await newUser(node);
    const token = `walk-push-${crypto.randomBytes(6).toString('hex')}-${'w'.repeat(30)}`;
    expect((await as(u).post('/push-tokens', { platform: 'fcm', token })).status).to.equal(201);
    return u;
  }
  // A real POST /walks: a 2 km trusted walk starting at `local` (KST).
  async function walkAt(u: TestUser, local: string): Promise<{ id: string }> {
    const res = await as(u).post('/walks', { clientWalkId: `push-${++seq}`, points: track({ distanceM: 2000, speedKmh: 5, seed: 900 + seq, t0: kst(local).getTime() }) });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body.trusted).to.equal(true);
    return res.body;
  }
  // A stored walk without the track (history for the reminder and ranking queries).
  async function pastWalk(userId: string, local: string, distanceM = 2000, trusted = true): Promise<void> {
    const startedAt = kst(local);
    await db().execute(
      `insert into walks (id, user_id, client_walk_id, started_at, ended_at, local_date, local_hour, distance_m, duration_s, moving_time_s, calories,
                          point_count, route, min_lat, max_lat, min_lng, max_lng, start_lat, start_lng, region, trust_score, trusted, analysis, feed_score)
       values (gen_random_uuid(), ?, ?, ?, ?, ?::date, ?, ?, 1800, 1700, 100, 10, '[]', 37.5, 37.6, 127, 127.1, 37.5, 127, null, ?, ?, '{}', 0)`,
      [userId, crypto.randomUUID(), startedAt, new Date(startedAt.getTime() + 1800_000), local.slice(0, 10), Number(local.slice(11, 13)), distanceM, trusted ? 90 : 20, trusted],
    );
  }
  // The push types that reached the offline outbox for a user.
  const outboxTypes = async (userId: string) => (await db().execute<{ type: string }[]>(
    `select distinct n.type from offline_outbox o join notifications n on n.id = (o.payload->'data'->>'notificationId')::bigint
      where o.channel = 'push' and n.user_id = ? order by n.type`, [userId])).map((r) => r.type);
  // What each push of a type to a user came to, once `count` have been recorded (notifications go out after commit, off the request).
  async function pushOutcomes(userId: string, type: string, count: number): Promise<string[]> {
    const rows = await settled(() => db().execute<{ outcome: string }[]>(
      `select d.outcome from notification_deliveries d join notifications n on n.id = d.notification_id
        where n.user_id = ? and n.type = ? and d.channel = 'push' order by d.id`, [userId, type]), (r) => r.length >= count, { tries: 250 });
    return rows.map((r) => r.outcome).sort();
  }

  it('gets two walkers each of the seven push types into the offline outbox', async () => {
    clock.set(kst('2029-03-12T09:35:00'));
    const [a, b] = [await walker(), await walker()];
    // Three walks at 10 o'clock last Friday to Sunday: badges now, last week's ranks, and a usual hour.
    const walks = new Map<string, { id: string }>();
    for (const u of [a, b]) {
      for (const day of ['09', '10', '11']) walks.set(u.id, await walkAt(u, `2029-03-${day}T10:00:00`));
    }
    // Followers, a like and a comment.
    expect((await as(a).post(`/walk/users/${b.id}/follow`)).status).to.equal(200);
    expect((await as(b).post(`/walk/users/${a.id}/follow`)).status).to.equal(200);
    expect((await as(a).post(`/walks/${walks.get(b.id)!.id}/like`)).status).to.equal(200);
    expect((await as(b).post(`/walks/${walks.get(a.id)!.id}/comments`, { body: '같이 걸어요' })).status).to.equal(201);
    // Invitations, each to the other (a follower).
    for (const [from, to] of [[a, b], [b, a]]) {
      const inv = await as(from).post('/walk/invitations', { invitees: [to.id], startsAt: '2029-03-13T19:00:00+09:00', placeName: '서울숲', lat: 37.5444, lng: 127.0374 });
      expect(inv.status, JSON.stringify(inv.body)).to.equal(201);
    }
    // A meetup each hosts and the other joins; its new place tells the member.
    for (const [host, member] of [[a, b], [b, a]]) {
      const m = await as(host).post('/meetups', { title: '한강 산책', placeName: '여의도 한강공원', lat: 37.5284, lng: 126.9327, startsAt: '2029-03-13T19:00:00+09:00', capacity: 5 });
      expect(m.status, JSON.stringify(m.body)).to.equal(201);
      expect((await as(member).post(`/meetups/${m.body.id}/join`)).status).to.equal(201);
      expect((await as(host).patch(`/meetups/${m.body.id}`, { placeName: '뚝섬 한강공원', lat: 37.5296, lng: 127.0693 })).status).to.equal(200);
    }
    // Last week's result: the recompute closes the week, then each walker hears their rank.
    await services().rankings.recompute();
    const results = await services().rankingResults.deliver();
    expect(results).to.include({ week: '2029-03-05', recorded: 2, notified: 2 });
    // The reminder: 25 minutes before their usual hour, not walked today.
    expect((await services().reminders.sendDue()).reminded).to.equal(2);

    for (const u of [a, b]) {
      for (const type of SEVEN) expect(await pushOutcomes(u.id, type, 1), `${type} for ${u.email}`).to.include('sent');
      expect(await outboxTypes(u.id)).to.deep.equal(SEVEN);
    }
    // Each push in the outbox says what it is, with the notification's payload.
    const [row] = await db().execute<{ payload: { offline: boolean; title: string; data: { type: string; category: string; payload: string } } }[]>(
      `select o.payload from offline_outbox o join notifications n on n.id = (o.payload->'data'->>'notificationId')::bigint
        where n.user_id = ? and n.type = 'walk.ranking_result'`, [a.id]);
    expect(row.payload).to.deep.include({ offline: true, title: '지난주 랭킹 결과' });
    expect(row.payload.data).to.include({ type: 'walk.ranking_result', category: 'walk' });
    const result = JSON.parse(row.payload.data.payload);
    expect(result).to.include({ periodStart: '2029-03-05', countRank: 1, walks: 3, walkers: 2 });
    expect(result.distanceRank).to.be.oneOf([1, 2]); // two tracks of about 2 km each
    // The settings screen lists the seven, each on.
    const settings = await as(a).get('/notifications/settings');
    expect(Object.keys(settings.body.types).filter((t) => t.startsWith('walk.'))).to.include.members(SEVEN);
    for (const type of SEVEN) expect(settings.body.types[type], type).to.equal(true);
  });

  it('skips the push of a type the walker switched off, and still pushes the others', async () => {
    clock.set(kst('2029-03-12T09:40:00'));
    const [owner, fan] = [await walker(), await walker()];
    const w = await walkAt(owner, '2029-03-12T08:00:00');
    const off = await as(owner).put('/notifications/settings', { types: { 'walk.reaction': false } });
    expect(off.status, JSON.stringify(off.body)).to.equal(200);
    expect(off.body.types).to.include({ 'walk.reaction': false, 'walk.new_follower': true });
    expect((await as(fan).post(`/walks/${w.id}/like`)).status).to.equal(200);
    expect((await as(fan).post(`/walk/users/${owner.id}/follow`)).status).to.equal(200);
    expect(await pushOutcomes(owner.id, 'walk.reaction', 1)).to.deep.equal(['skipped_type_off']);
    expect(await pushOutcomes(owner.id, 'walk.new_follower', 1)).to.deep.equal(['sent']);
    expect(await outboxTypes(owner.id)).to.not.include('walk.reaction');
    // The inbox still has the like.
    const inbox = await as(owner).get('/notifications');
    expect(inbox.body.items.find((n: { type: string }) => n.type === 'walk.reaction').data).to.include({ action: 'liked', walkId: w.id });
  });

  it('skips pushes during the walker\'s quiet hours', async () => {
    clock.set(kst('2029-03-12T09:45:00'));
    const [sleeper, fan] = [await walker(), await walker()];
    const quiet = await as(sleeper).put('/notifications/settings', { quietHours: { start: '09:00', end: '10:00' }, timeZone: 'Asia/Seoul' });
    expect(quiet.status).to.equal(200);
    expect((await as(fan).post(`/walk/users/${sleeper.id}/follow`)).status).to.equal(200);
    expect(await pushOutcomes(sleeper.id, 'walk.new_follower', 1)).to.deep.equal(['skipped_quiet_hours']);
    expect(await outboxTypes(sleeper.id)).to.deep.equal([]);
  });

  it('holds each type to its own push limit: three reactions an hour, one reminder in six hours', async () => {
    clock.set(kst('2029-03-12T09:50:00'));
    const owner = await walker();
    const w = await walkAt(owner, '2029-03-12T08:10:00');
    const fans = await Promise.all(Array.from({ length: 4 }, () => newUser(node)));
    for (const f of fans) expect((await as(f).post(`/walks/${w.id}/like`)).status).to.equal(200);
    expect(await pushOutcomes(owner.id, 'walk.reaction', 4)).to.deep.equal(['sent', 'sent', 'sent', 'skipped_rate_limited']);
    // The inbox has all four.
    expect((await as(owner).get('/notifications?limit=50')).body.items.filter((n: { type: string }) => n.type === 'walk.reaction')).to.have.length(4);
    // A second reminder within six hours (another day's key, so the inbox takes it) does not push.
    const remind = (day: string) => node.services.notifications.notify(owner.id, { type: 'walk.reminder', category: 'walk', title: '산책 갈 시간이에요', dedupeKey: `walk.reminder:${day}` });
    const outcomes = [];
    for (const day of ['2029-03-12', '2029-03-13']) outcomes.push((await remind(day)).deliveries.find((d) => d.channel === 'push')!.outcome);
    expect(outcomes).to.deep.equal(['sent', 'skipped_rate_limited']);
  });

  describe('the walk reminder', () => {
    // Days of May 2029, where no other test walks (2029 also keeps this file's hall-of-fame weeks older than the ones test/walk/rankings.test.ts reads as newest): the due query sees only these walkers.
    let usual: TestUser;
    let walkedToday: TestUser;
    let newcomer: TestUser;
    let earlyBird: TestUser;
    let optedOut: TestUser;
    before(async () => {
      [usual, walkedToday, newcomer, earlyBird, optedOut] = [await walker(), await walker(), await walker(), await walker(), await walker()];
      // An evening walker who switched reminders off: no push, and no inbox row either.
      for (const d of ['2029-05-08', '2029-05-09', '2029-05-10']) await pastWalk(optedOut.id, `${d}T19:05:00`);
      expect((await as(optedOut).put('/notifications/settings', { types: { 'walk.reminder': false } })).status).to.equal(200);
      // Usual hour 19: three evening walks, one morning one (and a flagged evening one, which counts for nothing).
      for (const d of ['2029-05-07', '2029-05-09', '2029-05-11']) await pastWalk(usual.id, `${d}T19:10:00`);
      await pastWalk(usual.id, '2029-05-08T08:00:00');
      for (const d of ['2029-05-08', '2029-05-10', '2029-05-12']) await pastWalk(walkedToday.id, `${d}T19:00:00`);
      // Two walks are not a habit yet.
      for (const d of ['2029-05-10', '2029-05-11']) await pastWalk(newcomer.id, `${d}T19:00:00`);
      await pastWalk(newcomer.id, '2029-05-12T19:00:00', 9000, false);
      // Usual hour 7, though they walked at 19 once.
      for (const d of ['2029-05-09', '2029-05-10', '2029-05-11']) await pastWalk(earlyBird.id, `${d}T07:30:00`);
      await pastWalk(earlyBird.id, '2029-05-12T19:30:00');
    });

    const reminders = async (userId: string) => (await db().execute<{ data: { localDate: string; usualHour: number }; created_at: Date }[]>(
      `select data from notifications where user_id = ? and type = 'walk.reminder' order by id`, [userId])).map((r) => r.data);

    it('reminds from half an hour before the usual hour, once a day under two concurrent runs, and never one who walked today', async () => {
      // Monday 2029-05-14. This morning's walk (a real POST) takes walkedToday out.
      clock.set(kst('2029-05-14T09:00:00'));
      await walkAt(walkedToday, '2029-05-14T08:00:00');

      clock.set(kst('2029-05-14T18:25:00')); // hour 18's window: nobody here walks at 18
      expect(await services().reminders.sendDue()).to.include({ localDate: '2029-05-14', hour: 18, reminded: 0 });
      expect(await reminders(usual.id)).to.deep.equal([]);

      clock.set(kst('2029-05-14T18:30:00')); // hour 19's window opens
      const [one, two] = await Promise.all([services().reminders.sendDue(), services().reminders.sendDue()]);
      expect([one.hour, two.hour]).to.deep.equal([19, 19]);
      expect(one.reminded + two.reminded).to.equal(1);
      expect(one.switchedOff + two.switchedOff).to.equal(1);
      expect(await reminders(usual.id)).to.deep.equal([{ localDate: '2029-05-14', usualHour: 19 }]);
      expect(await pushOutcomes(usual.id, 'walk.reminder', 1)).to.deep.equal(['sent']);
      expect(await outboxTypes(usual.id)).to.deep.equal(['walk.reminder']);
      for (const u of [walkedToday, newcomer, earlyBird, optedOut]) expect(await reminders(u.id)).to.deep.equal([]);

      // Later runs in the window remind nobody again; after it, nobody is due.
      clock.set(kst('2029-05-14T19:20:00'));
      expect((await services().reminders.sendDue()).reminded).to.equal(0);
      clock.set(kst('2029-05-14T19:30:00'));
      expect(await services().reminders.sendDue()).to.include({ hour: 20, reminded: 0 });
      expect(await reminders(usual.id)).to.have.length(1);

      // The early bird's hour comes the next morning; a walk at 19 once did not move it.
      clock.set(kst('2029-05-15T06:40:00'));
      expect((await services().reminders.sendDue()).reminded).to.equal(1);
      expect(await reminders(earlyBird.id)).to.deep.equal([{ localDate: '2029-05-15', usualHour: 7 }]);

      // The next evening, the usual walker is reminded again (a new day), and today's walker too now.
      clock.set(kst('2029-05-15T18:50:00'));
      expect((await services().reminders.sendDue()).reminded).to.equal(2);
      expect((await reminders(usual.id)).map((r) => r.localDate)).to.deep.equal(['2029-05-14', '2029-05-15']);
      expect(await reminders(walkedToday.id)).to.deep.equal([{ localDate: '2029-05-15', usualHour: 19 }]);
      expect(await reminders(newcomer.id)).to.deep.equal([]);
      expect(await reminders(optedOut.id)).to.deep.equal([]);
    });

    it('is a cron job every 10 minutes', async () => {
      const job = cronJobs(node.services).find((j) => j.name === 'walk-reminders');
      expect(job?.schedule).to.equal('*/10 * * * *');
      clock.set(kst('2029-05-16T23:45:00')); // no hour's window: the minutes before midnight belong to nobody
      expect(await job!.run({ em: db(), logger: node.ctx.logger, signal: new AbortController().signal })).to.deep.include({ hour: null, reminded: 0 });
    });
  });

  describe('the weekly ranking result', () => {
    it('tells each walker of the closed week their final rank once, under two concurrent runs and reruns, and not before the week closes', async () => {
      const [x, y, z] = [await walker(), await walker(), await walker()];
      // The week of Monday 2029-06-04: x walks farthest, y most often, z ties y on distance.
      await pastWalk(x.id, '2029-06-05T10:00:00', 3000);
      await pastWalk(x.id, '2029-06-06T10:00:00', 2000);
      for (const d of ['2029-06-05', '2029-06-07', '2029-06-10']) await pastWalk(y.id, `${d}T10:00:00`, 1000);
      await pastWalk(z.id, '2029-06-09T10:00:00', 3000);
      await pastWalk(z.id, '2029-06-10T11:00:00', 50_000, false); // flagged: not ranked
      await pastWalk(z.id, '2029-06-11T00:10:00', 4000); // Monday: the next week

      // 00:30 Monday: the week has ended but is not closed (the recompute waits an hour).
      clock.set(kst('2029-06-11T00:30:00'));
      await services().rankings.recompute();
      expect(await services().rankingResults.deliver()).to.include({ week: '2029-06-04', recorded: 0, notified: 0 });

      clock.set(kst('2029-06-11T01:20:00'));
      await services().rankings.recompute();
      const runs = await Promise.all([services().rankingResults.deliver(), services().rankingResults.deliver()]);
      expect(runs[0].recorded + runs[1].recorded).to.equal(3);
      const told = async (u: TestUser) => (await db().execute<{ data: Record<string, unknown> }[]>(
        `select data from notifications where user_id = ? and type = 'walk.ranking_result'`, [u.id])).map((r) => r.data);
      expect(await told(x)).to.deep.equal([{ periodStart: '2029-06-04', distanceRank: 1, distanceM: 5000, countRank: 2, walks: 2, walkers: 3 }]);
      expect(await told(y)).to.deep.equal([{ periodStart: '2029-06-04', distanceRank: 2, distanceM: 3000, countRank: 1, walks: 3, walkers: 3 }]);
      expect(await told(z)).to.deep.equal([{ periodStart: '2029-06-04', distanceRank: 2, distanceM: 3000, countRank: 3, walks: 1, walkers: 3 }]);
      for (const u of [x, y, z]) expect(await pushOutcomes(u.id, 'walk.ranking_result', 1)).to.deep.equal(['sent']);
      const pushes = await db().execute<{ n: string }[]>(
        `select count(*) as n from offline_outbox o join notifications n on n.id = (o.payload->'data'->>'notificationId')::bigint
          where n.type = 'walk.ranking_result' and n.user_id = any(?::uuid[])`, [`{${[x.id, y.id, z.id].join(',')}}`]);
      expect(pushes[0].n).to.equal('3');

      // Reruns (the next hours) find everyone told.
      clock.set(kst('2029-06-11T02:20:00'));
      await services().rankings.recompute();
      expect(await services().rankingResults.deliver()).to.include({ recorded: 0, notified: 0 });
      expect(await told(x)).to.have.length(1);
      expect(cronJobs(node.services).find((j) => j.name === 'walk-ranking-results')?.schedule).to.equal('20 * * * *');
    });

    it('finishes what a run left undone, without telling anyone twice', async () => {
      const [p, q, r] = [await walker(), await walker(), await walker()];
      await pastWalk(p.id, '2029-07-03T10:00:00', 2000);
      await pastWalk(q.id, '2029-07-04T10:00:00', 1000);
      await pastWalk(r.id, '2029-07-05T10:00:00', 1500);
      clock.set(kst('2029-07-09T01:20:00'));
      await services().rankings.recompute();
      await services().rankingResults.deliver();
      // As if a run had died after notifying q but before marking it, and before notifying r at all.
      await db().execute(`update walk_ranking_results set notified_at = null where user_id = any(?::uuid[])`, [`{${q.id},${r.id}}`]);
      await db().execute(`delete from notifications where user_id = ? and type = 'walk.ranking_result'`, [r.id]);
      expect(await services().rankingResults.deliver()).to.include({ recorded: 0, notified: 2 });
      for (const u of [p, q, r]) {
        expect(await pushOutcomes(u.id, 'walk.ranking_result', 1), u.email).to.deep.equal(['sent']);
        const [{ n }] = await db().execute<{ n: string }[]>(`select count(*) as n from notifications where user_id = ? and type = 'walk.ranking_result'`, [u.id]);
        expect(n).to.equal('1');
      }
      expect(await services().rankingResults.deliver()).to.include({ notified: 0 });
    });
  });
});
