// Walk invitations end to end over HTTP, on two nodes sharing one clock: only followers may be
// invited (a block looks the same as not following), accept and decline once and before the time,
// races between answers, expiry on read and by the cron, cancel, the inviter's early start, and the
// cron opening one walk-together session with the accepted invitees even when two nodes run it at
// once.
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import { cronJobs } from '../../cron/index.ts';
import type { ApiNode } from '../../server/node.ts';
import { createTestClock } from '../../services/time.ts';
import { closeAllSockets, connectSocket, connected, newUser, redisUrl, request, runCronJob, settled, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const NOW = '2026-11-27T18:00:00+09:00';

describe('walk: invitations', function () {
  this.timeout(60_000);
  const clock = createTestClock(NOW);
  let a: ApiNode;
  let b: ApiNode;
  before(async () => {
    // With Redis, session.invited reaches a walker on the other node too.
    const env: Record<string, string> = redisUrl ? { REDIS_URL: redisUrl } : {};
    a = await startNode({ ...env, NODE_ID: 'walk-invitations-a' }, clock);
    b = redisUrl ? await startNode({ ...env, NODE_ID: 'walk-invitations-b' }, clock) : a;
  });
  afterEach(() => {
    closeAllSockets();
    clock.set(NOW);
  });
  after(stopAllNodes);

  const db = () => a.ctx.db.orm.em.fork();
  const at = (msFromNow: number) => new Date(clock.now().getTime() + msFromNow).toISOString();
  const as = (u: TestUser, node: ApiNode = a) => ({
    get: (path: string) => request(node, 'GET', path, { token: u.accessToken }),
    post: (path: string, body?: unknown) => request(node, 'POST', path, { token: u.accessToken, body }),
  });
  const invitation = (invitees: TestUser[], overrides: Record<string, unknown> = {}) => ({
    invitees: invitees.map((u) => u.id), startsAt: at(2 * HOUR), placeName: '서울숲 3번 출입구', lat: 37.5444, lng: 127.0374, message: '초코랑 같이 걸어요', ...overrides,
  });
  const act = (u: TestUser, id: string, what: 'accept' | 'decline' | 'cancel' | 'start', node: ApiNode = a) => as(u, node).post(`/walk/invitations/${id}/${what}`);

  // An inviter and `n` of their followers.
  async function circle(n: number): Promise<{ inviter: TestUser; followers: TestUser[] }> {
    const inviter = await newUser(a);
    const followers = await Promise.all(Array.from({ length: n }, () => newUser(a)));
    for (const f of followers) expect((await as(f).post(`/walk/users/${inviter.id}/follow`)).status).to.equal(200);
    return { inviter, followers };
  }
  async function invite(inviter: TestUser, invitees: TestUser[], overrides: Record<string, unknown> = {}): Promise<{ id: string; [k: string]: any }> {
    const res = await as(inviter).post('/walk/invitations', invitation(invitees, overrides));
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body;
  }
  // Notifications are sent after the change commits, off the request: wait for `count` to land.
  const notices = (userId: string, count: number, action?: string) => settled(async () => (await db().execute<{ data: Record<string, any>; title: string }[]>(
    `select data, title from notifications where user_id = ? and type = 'walk.invitation' order by created_at, id`, [userId]))
    .filter((r) => !action || r.data.action === action), (rows) => rows.length >= count);
  const runCron = (node: ApiNode) => runCronJob(node, 'walk-invitations-start');
  const rowOf = async (id: string) => (await db().execute<{ status: string; session_id: string | null }[]>(`select status, session_id from walk_invitations where id = ?`, [id]))[0];
  const answersOf = async (id: string) => Object.fromEntries((await db().execute<{ user_id: string; answer: string }[]>(
    `select user_id, answer from walk_invitation_invitees where invitation_id = ?`, [id])).map((r) => [r.user_id, r.answer]));
  const participantsOf = async (sessionId: string) => (await db().execute<{ user_id: string }[]>(
    `select user_id from walk_session_participants where session_id = ?`, [sessionId])).map((r) => r.user_id);
  const sessionsOf = async (inviterId: string) => db().execute<{ id: string; source: string }[]>(`select id, source from walk_sessions where created_by = ?`, [inviterId]);

  it('invites followers, who are each notified and see it in their box; the inviter sees it sent', async () => {
    const { inviter, followers: [f1, f2] } = await circle(2);
    const sent = await invite(inviter, [f1, f2]);
    expect(sent).to.include({ inviterId: inviter.id, placeName: '서울숲 3번 출입구', status: 'open', sessionId: null, myAnswer: null, message: '초코랑 같이 걸어요' });
    expect(sent.startsAt).to.equal('2026-11-27T20:00:00+09:00');
    expect(sent.invitees.map((x: { userId: string; answer: string }) => [x.userId, x.answer])).to.have.deep.members([[f1.id, 'pending'], [f2.id, 'pending']]);

    for (const f of [f1, f2]) {
      const [note] = await notices(f.id, 1);
      expect(note.data).to.deep.equal({ action: 'invited', invitationId: sent.id, inviterId: inviter.id, startsAt: '2026-11-27T20:00:00+09:00', placeName: '서울숲 3번 출입구' });
      const got = await as(f, b).get(`/walk/invitations/${sent.id}`);
      expect(got.status).to.equal(200);
      expect(got.body.myAnswer).to.equal('pending');
      const box = await as(f).get('/walk/invitations?box=received');
      expect(box.body.items.map((x: { id: string }) => x.id)).to.deep.equal([sent.id]);
    }
    expect((await as(inviter).get('/walk/invitations?box=sent')).body.items.map((x: { id: string }) => x.id)).to.deep.equal([sent.id]);
    expect((await as(inviter).get('/walk/invitations?box=received')).body.items).to.deep.equal([]);
    // Nobody else sees it.
    expect((await as(await newUser(a)).get(`/walk/invitations/${sent.id}`)).status).to.equal(404);
  });

  it('invites followers only: a non-follower and a walker blocked either way are refused alike, naming invitees', async () => {
    const { inviter, followers: [follower, blockedByInviter, blockerOfInviter] } = await circle(3);
    const stranger = await newUser(a);
    const refusal = async (invitee: TestUser) => {
      const res = await as(inviter).post('/walk/invitations', invitation([follower, invitee]));
      expect(res.status, JSON.stringify(res.body)).to.equal(400);
      expect(res.body.errors).to.deep.equal([{ field: 'invitees', in: 'body', message: `not one of your followers: ${invitee.id}` }]);
    };
    await refusal(stranger);
    // A block either way ends the follow, so the blocked walker is no follower any more...
    expect((await as(inviter).post(`/walk/users/${blockedByInviter.id}/block`)).status).to.equal(200);
    await refusal(blockedByInviter);
    // ... and a block is refused on its own too: here the follow row is put back behind the block's back.
    expect((await as(blockerOfInviter).post(`/walk/users/${inviter.id}/block`)).status).to.equal(200);
    await db().execute(`insert into walk_follows (follower_id, followee_id) values (?, ?)`, [blockerOfInviter.id, inviter.id]);
    await refusal(blockerOfInviter);
    expect((await db().execute(`select 1 from walk_invitations where inviter_id = ?`, [inviter.id])).length, 'nothing was written').to.equal(0);
    expect((await notices(follower.id, 0)).length).to.equal(0);
  });

  it('refuses bad input naming the field', async () => {
    const { inviter, followers } = await circle(1);
    const field = async (res: Promise<{ status: number; body: any }>) => {
      const r = await res;
      expect(r.status, JSON.stringify(r.body)).to.equal(400);
      return r.body.errors[0].field;
    };
    const post = (overrides: Record<string, unknown>) => as(inviter).post('/walk/invitations', invitation(followers, overrides));
    expect(await field(post({ startsAt: at(-MINUTE) }))).to.equal('startsAt');
    expect(await field(post({ startsAt: at(31 * 24 * HOUR) }))).to.equal('startsAt');
    expect(await field(post({ startsAt: 'tomorrow' }))).to.equal('startsAt');
    expect(await field(post({ lat: 91 }))).to.equal('lat');
    expect(await field(post({ lng: 'east' }))).to.equal('lng');
    expect(await field(post({ placeName: '  ' }))).to.equal('placeName');
    expect(await field(post({ message: 'x'.repeat(501) }))).to.equal('message');
    expect(await field(post({ invitees: [] }))).to.equal('invitees');
    expect(await field(post({ invitees: [followers[0].id, followers[0].id] }))).to.equal('invitees');
    expect(await field(post({ invitees: Array.from({ length: 10 }, () => crypto.randomUUID()) }))).to.equal('invitees');
    expect(await field(post({ invitees: [inviter.id] }))).to.equal('invitees');
    expect(await field(post({ invitees: ['not-a-uuid'] }))).to.match(/^invitees/);
    expect(await field(as(inviter).get('/walk/invitations?box=inbox'))).to.equal('box');
    expect(await field(as(inviter).get('/walk/invitations?cursor=bm9uc2Vuc2U'))).to.equal('cursor');
    expect(await field(as(inviter).get('/walk/invitations?limit=0'))).to.equal('limit');
    expect(await field(as(inviter).post('/walk/invitations/not-a-uuid/accept'))).to.equal('id');
  });

  it('takes one answer per invitee, before the time: the inviter hears each; others and the inviter may not answer', async () => {
    const { inviter, followers: [yes, no] } = await circle(2);
    const inv = await invite(inviter, [yes, no]);
    const accepted = await act(yes, inv.id, 'accept');
    expect(accepted.status, JSON.stringify(accepted.body)).to.equal(200);
    expect(accepted.body.myAnswer).to.equal('accepted');
    expect((await act(yes, inv.id, 'accept', b)).status, 'the same answer again changes nothing').to.equal(200);
    const changed = await act(yes, inv.id, 'decline');
    expect(changed.status).to.equal(409);
    expect(changed.body).to.include({ code: 'already_answered', answer: 'accepted' });
    expect((await act(no, inv.id, 'decline')).body.myAnswer).to.equal('declined');

    const told = await notices(inviter.id, 2);
    expect(told.map((n) => n.data)).to.have.deep.members([
      { action: 'accepted', invitationId: inv.id, inviterId: inviter.id, inviteeId: yes.id, startsAt: inv.startsAt, placeName: inv.placeName },
      { action: 'declined', invitationId: inv.id, inviterId: inviter.id, inviteeId: no.id, startsAt: inv.startsAt, placeName: inv.placeName },
    ]);
    const inviterAnswers = await act(inviter, inv.id, 'accept');
    expect(inviterAnswers.status).to.equal(403);
    expect(inviterAnswers.body.code).to.equal('not_invitee');
    expect((await act(await newUser(a), inv.id, 'accept')).status).to.equal(404);
    expect((await act(yes, crypto.randomUUID(), 'accept')).status).to.equal(404);
    const seen = (await as(inviter).get(`/walk/invitations/${inv.id}`)).body;
    expect(Object.fromEntries(seen.invitees.map((x: { userId: string; answer: string }) => [x.userId, x.answer]))).to.deep.equal({ [yes.id]: 'accepted', [no.id]: 'declined' });
    await new Promise((r) => setTimeout(r, 150));
    expect(await notices(inviter.id, 0), 'the repeated answer told nobody').to.have.length(2);
  });

  it('lets the first of racing answers stand: accept against decline, and two accepts, on two nodes', async () => {
    const { inviter, followers } = await circle(6);
    const inv = await invite(inviter, followers);
    // Accept against decline, for three invitees at once: one answer each stands, the other is a 409.
    const duels = await Promise.all(followers.slice(0, 3).map((f) => Promise.all([act(f, inv.id, 'accept', a), act(f, inv.id, 'decline', b)])));
    const answers = await answersOf(inv.id);
    duels.forEach(([acc, dec], i) => {
      expect([acc.status, dec.status].sort(), JSON.stringify([acc.body, dec.body])).to.deep.equal([200, 409]);
      const winner = acc.status === 200 ? 'accepted' : 'declined';
      expect(answers[followers[i].id]).to.equal(winner);
      expect((acc.status === 409 ? acc : dec).body).to.include({ code: 'already_answered', answer: winner });
    });
    // Two accepts from each of the other three: both 200, one answer, one notice each.
    const pairs = await Promise.all(followers.slice(3).map((f) => Promise.all([act(f, inv.id, 'accept', a), act(f, inv.id, 'accept', b)])));
    for (const pair of pairs) expect(pair.map((r) => r.status)).to.deep.equal([200, 200]);
    await notices(inviter.id, 6);
    await new Promise((r) => setTimeout(r, 150));
    const told = await notices(inviter.id, 0);
    expect(told, 'one notice per invitee').to.have.length(6);
    expect(told.map((n) => n.data.inviteeId)).to.have.members(followers.map((f) => f.id));
    // Each notice tells the answer that stood.
    const final = await answersOf(inv.id);
    for (const n of told) expect(n.data.action).to.equal(final[n.data.inviteeId]);
  });

  it('expires unanswered invitations at their time: expired on read at once, answers refused, marked by the cron', async () => {
    const { inviter, followers: [f1, f2] } = await circle(2);
    const nobody = await invite(inviter, [f1, f2], { startsAt: at(HOUR) });
    const someone = await invite(inviter, [f1, f2], { startsAt: at(HOUR) });
    expect((await act(f1, someone.id, 'accept')).status).to.equal(200);
    clock.set(Date.parse(NOW) + HOUR + MINUTE);

    const read = (await as(f2).get(`/walk/invitations/${nobody.id}`)).body;
    expect(read).to.include({ status: 'expired', myAnswer: 'expired' });
    const late = await act(f2, nobody.id, 'accept');
    expect(late.status).to.equal(409);
    expect(late.body.code).to.equal('invitation_expired');
    expect((await act(f2, someone.id, 'decline')).body.code).to.equal('invitation_expired');
    expect((await as(f2).get(`/walk/invitations/${someone.id}`)).body).to.include({ status: 'open', myAnswer: 'expired' });

    await runCron(a);
    expect(await rowOf(nobody.id)).to.deep.equal({ status: 'expired', session_id: null });
    expect(await answersOf(nobody.id)).to.deep.equal({ [f1.id]: 'expired', [f2.id]: 'expired' });
    // The other one had an accept: its walk started, and who never answered is expired.
    const started = await rowOf(someone.id);
    expect(started.status).to.equal('started');
    expect(await answersOf(someone.id)).to.deep.equal({ [f1.id]: 'accepted', [f2.id]: 'expired' });
    expect((await act(inviter, nobody.id, 'start')).body.code).to.equal('invitation_expired');

    // One that someone accepted but nobody started within two hours of its time (the cron was down) expires too.
    clock.set(NOW);
    const forgotten = await invite(inviter, [f1], { startsAt: at(HOUR) });
    await act(f1, forgotten.id, 'accept');
    clock.set(Date.parse(NOW) + 3.5 * HOUR);
    expect((await as(f1).get(`/walk/invitations/${forgotten.id}`)).body.status).to.equal('expired');
    await runCron(b);
    expect(await rowOf(forgotten.id)).to.deep.equal({ status: 'expired', session_id: null });
  });

  it('opens one walk-together session at the time for the inviter and those who accepted, with two nodes running the cron at once', async () => {
    const { inviter, followers: [yes, alsoYes, no, silent, blockedLater] } = await circle(5);
    const inv = await invite(inviter, [yes, alsoYes, no, silent, blockedLater], { startsAt: at(HOUR) });
    const later = await invite(inviter, [yes], { startsAt: at(5 * HOUR) });
    for (const f of [yes, alsoYes, blockedLater]) expect((await act(f, inv.id, 'accept')).status).to.equal(200);
    await act(yes, later.id, 'accept');
    await act(no, inv.id, 'decline');
    // An accepted invitee who blocks the inviter before the walk is left out of it.
    await as(blockedLater).post(`/walk/users/${inviter.id}/block`);

    // Each listening on its node (an async function would flatten the promise, so the sockets are connected first).
    const sockets: Socket[] = [yes, alsoYes].map((u, i) => connectSocket(i ? b : a, '/walk', { token: u.accessToken }));
    await Promise.all(sockets.map(connected));
    const invited = sockets.map((socket) => new Promise<{ sessionId: string; createdBy: string; participants: string[] }>((resolve) => socket.once('session.invited', resolve)));

    expect(cronJobs(a.services).find((j) => j.name === 'walk-invitations-start')!.schedule, 'every minute').to.equal('* * * * *');
    // Not yet: the cron leaves it.
    await Promise.all([runCron(a), runCron(b)]);
    expect((await rowOf(inv.id)).status).to.equal('open');

    clock.set(Date.parse(NOW) + HOUR + 30_000);
    await Promise.all([runCron(a), runCron(b), runCron(a)]);
    const row = await rowOf(inv.id);
    expect(row.status).to.equal('started');
    const sessions = await sessionsOf(inviter.id);
    expect(sessions, 'one session, whoever ran the job').to.deep.equal([{ id: row.session_id, source: 'invitation' }]);
    expect(await participantsOf(row.session_id!)).to.have.members([inviter.id, yes.id, alsoYes.id]);
    for (const heard of await Promise.all(invited)) {
      expect(heard).to.include({ sessionId: row.session_id, createdBy: inviter.id });
      expect(heard.participants).to.have.members([inviter.id, yes.id, alsoYes.id]);
    }
    expect(await answersOf(inv.id)).to.deep.equal({ [yes.id]: 'accepted', [alsoYes.id]: 'accepted', [no.id]: 'declined', [silent.id]: 'expired', [blockedLater.id]: 'accepted' });
    expect((await rowOf(later.id)).status, 'a later walk waits').to.equal('open');

    // Every reader sees it started with its session; starting it again gives the same session.
    expect((await as(yes).get(`/walk/invitations/${inv.id}`)).body).to.include({ status: 'started', sessionId: row.session_id, myAnswer: 'accepted' });
    const again = await act(inviter, inv.id, 'start', b);
    expect(again.status).to.equal(200);
    expect(again.body).to.deep.equal({ sessionId: row.session_id, created: false });
    await runCron(a);
    expect(await sessionsOf(inviter.id)).to.have.length(1);
    // The walk has started: no answers, no cancel.
    expect((await act(silent, inv.id, 'accept')).body.code).to.equal('invitation_started');
    expect((await act(inviter, inv.id, 'cancel')).body.code).to.equal('invitation_started');
  });

  it('lets the inviter start the walk from 30 minutes before, once even when asked eight times at once', async () => {
    const { inviter, followers: [yes, pending] } = await circle(2);
    const inv = await invite(inviter, [yes, pending], { startsAt: at(2 * HOUR) });
    expect((await act(inviter, inv.id, 'start')).body.code).to.equal('too_early');
    clock.set(Date.parse(NOW) + 2 * HOUR - 20 * MINUTE);
    expect((await act(inviter, inv.id, 'start')).body.code, 'nobody accepted yet').to.equal('no_accepted');
    await act(yes, inv.id, 'accept');
    const notInviter = await act(yes, inv.id, 'start');
    expect(notInviter.status).to.equal(403);
    expect(notInviter.body.code).to.equal('not_inviter');

    // More starters on one node than its pool has connections (4 in tests): the one opening the session
    // needs a second connection, and the others must not sit on theirs waiting for it.
    const all = await Promise.all([a, a, a, a, a, a, b, b].map((node) => act(inviter, inv.id, 'start', node)));
    expect(all.map((r) => r.status).sort(), JSON.stringify(all.map((r) => r.body))).to.deep.equal([200, 200, 200, 200, 200, 200, 200, 201]);
    const sessionId = all[0].body.sessionId;
    for (const r of all) expect(r.body.sessionId).to.equal(sessionId);
    expect(await participantsOf(sessionId)).to.have.members([inviter.id, yes.id]);
    expect(await rowOf(inv.id)).to.deep.equal({ status: 'started', session_id: sessionId });
    const late = await act(pending, inv.id, 'accept');
    expect(late.status).to.equal(409);
    expect(late.body.code).to.equal('invitation_started');

    // At its time the cron finds it started and opens nothing more.
    clock.set(Date.parse(NOW) + 2 * HOUR + MINUTE);
    await Promise.all([runCron(a), runCron(b)]);
    expect(await sessionsOf(inviter.id)).to.deep.equal([{ id: sessionId, source: 'invitation' }]);
  });

  it('lets only the inviter cancel, before the walk starts; invitees still in are told, and nothing starts it', async () => {
    const { inviter, followers: [yes, no, pending] } = await circle(3);
    const inv = await invite(inviter, [yes, no, pending], { startsAt: at(HOUR) });
    await act(yes, inv.id, 'accept');
    await act(no, inv.id, 'decline');
    const notInviter = await act(yes, inv.id, 'cancel');
    expect(notInviter.status).to.equal(403);
    expect(notInviter.body.code).to.equal('not_inviter');
    const cancelled = await act(inviter, inv.id, 'cancel');
    expect(cancelled.status, JSON.stringify(cancelled.body)).to.equal(200);
    expect(cancelled.body.status).to.equal('cancelled');
    expect((await act(inviter, inv.id, 'cancel', b)).body.status, 'twice is once').to.equal('cancelled');
    for (const u of [yes, pending]) {
      const told = await notices(u.id, 1, 'cancelled');
      expect(told).to.have.length(1);
      expect(told[0].data).to.include({ action: 'cancelled', invitationId: inv.id, inviterId: inviter.id });
    }
    expect(await notices(no.id, 0, 'cancelled')).to.have.length(0);
    expect((await act(pending, inv.id, 'accept')).body.code).to.equal('invitation_cancelled');
    expect((await act(inviter, inv.id, 'start')).body.code).to.equal('invitation_cancelled');
    clock.set(Date.parse(NOW) + HOUR + MINUTE);
    await runCron(a);
    expect(await rowOf(inv.id)).to.deep.equal({ status: 'cancelled', session_id: null });
    expect(await sessionsOf(inviter.id)).to.have.length(0);
  });

  it('pages the boxes by cursor, and hides from an invitee the invitations of a walker either of them blocked', async () => {
    const [i1, i2, me] = [await newUser(a), await newUser(a), await newUser(a)];
    for (const i of [i1, i2]) await as(me).post(`/walk/users/${i.id}/follow`);
    // A second apart: the boxes are newest first.
    const first = await invite(i1, [me]);
    clock.advance(1000);
    const second = await invite(i2, [me]);
    clock.advance(1000);
    const third = await invite(i1, [me], { startsAt: at(3 * HOUR) });
    const page1 = await as(me).get('/walk/invitations?box=received&limit=2');
    expect(page1.body.items.map((x: { id: string }) => x.id)).to.deep.equal([third.id, second.id]);
    const page2 = await as(me).get(`/walk/invitations?box=received&limit=2&cursor=${page1.body.nextCursor}`);
    expect(page2.body.items.map((x: { id: string }) => x.id)).to.deep.equal([first.id]);
    expect(page2.body.nextCursor).to.equal(null);
    const sent = await as(i1).get('/walk/invitations?box=sent&limit=1');
    expect(sent.body.items.map((x: { id: string }) => x.id)).to.deep.equal([third.id]);
    expect((await as(i1).get(`/walk/invitations?box=sent&limit=1&cursor=${sent.body.nextCursor}`)).body.items.map((x: { id: string }) => x.id)).to.deep.equal([first.id]);

    // I block i1: their invitations leave my box and answer 404 to me; i2's stay.
    await as(me).post(`/walk/users/${i1.id}/block`);
    expect((await as(me).get('/walk/invitations?box=received')).body.items.map((x: { id: string }) => x.id)).to.deep.equal([second.id]);
    expect((await as(me).get(`/walk/invitations/${first.id}`)).status).to.equal(404);
    expect((await act(me, first.id, 'accept')).status).to.equal(404);
  });
});
