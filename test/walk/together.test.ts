// Walking together on /walk end to end: sessions only their participants join, positions relayed to
// the others (never back to the sender) at most once a second, blurred inside the sender's home
// zones, presence (joined, stale, active, left), closing, a reconnect's last positions, and two
// nodes on the sharded Redis adapter.
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { haversineM as distanceM } from '../../workers/geo.ts';
import { closeAllSockets, connectSocket, connected, newUser, redisUrl, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

type Zone = { lat: number; lng: number; radiusM: number };
type Walker = TestUser & { socket: Socket; node: ApiNode };

// Seoul City Hall, and a point ~130 m from it (inside a 300 m zone there), and one ~3 km away.
const HOME: Zone = { lat: 37.5665, lng: 126.978, radiusM: 300 };
const INSIDE = { lat: 37.5675, lng: 126.9788 };
const INSIDE_2 = { lat: 37.5658, lng: 126.9771 };
const OUTSIDE = { lat: 37.5912, lng: 126.9931 };
const TIMEOUT_MS = 5000;

// The next `event` on `socket` that `match` accepts (listening starts now), or a rejection naming it.
function waitFor<T = any>(socket: Socket, event: string, match: (p: T) => boolean = () => true, ms = TIMEOUT_MS): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.off(event, on);
      reject(new Error(`no ${event} within ${ms} ms`));
    }, ms);
    const on = (p: T) => {
      if (!match(p)) return;
      clearTimeout(timer);
      socket.off(event, on);
      resolve(p);
    };
    socket.on(event, on);
  });
}

// Everything `socket` receives of `event` from now on.
function record<T = any>(socket: Socket, event: string): T[] {
  const got: T[] = [];
  socket.on(event, (p: T) => got.push(p));
  return got;
}

describe('walk: walking together', function () {
  this.timeout(30_000);
  // Short windows so stale and abandoned can be seen: stale after 1 s, swept every 150 ms.
  const env = { WALK_TOGETHER_STALE_SECONDS: '1', WALK_TOGETHER_SWEEP_MS: '150', ...(redisUrl ? { REDIS_URL: redisUrl } : {}) };
  let a: ApiNode;
  let b: ApiNode;

  before(async () => {
    a = await startNode({ ...env, NODE_ID: 'walk-together-a' });
    b = redisUrl ? await startNode({ ...env, NODE_ID: 'walk-together-b' }) : a;
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  const db = () => a.ctx.db.orm.em.fork();
  const together = (node: ApiNode) => moduleServices(node.services, walkModule).together;

  async function socketFor(node: ApiNode, user: TestUser): Promise<Socket> {
    const socket = connectSocket(node, '/walk', { token: user.accessToken });
    await connected(socket);
    return socket;
  }

  async function walker(node: ApiNode = a, zones: Zone[] = []): Promise<Walker> {
    const user = await newUser(node);
    await db().execute(`insert into walk_profiles (user_id, nickname, home_zones) values (?, ?, ?::jsonb)`, [user.id, user.username, JSON.stringify(zones)]);
    return { ...user, node, socket: await socketFor(node, user) };
  }

  const ack = (socket: Socket, event: string, payload?: unknown) => socket.timeout(TIMEOUT_MS).emitWithAck(event, payload);
  const fix = (sessionId: string, at: { lat: number; lng: number }, extra: Record<string, unknown> = {}) => ({ sessionId, ...at, t: Date.now(), accuracy: 5, ...extra });

  // A session of the first walker with the others, everyone joined.
  async function session(walkers: Walker[]): Promise<string> {
    const [creator, ...others] = walkers;
    const created = await ack(creator.socket, 'session.create', { invitees: others.map((w) => w.id) });
    expect(created.ok, JSON.stringify(created)).to.equal(true);
    for (const w of others) {
      const joined = await ack(w.socket, 'session.join', { sessionId: created.sessionId });
      expect(joined.ok, JSON.stringify(joined)).to.equal(true);
    }
    return created.sessionId;
  }

  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

  it('creates a session with invitees, who hear session.invited; only participants may join', async () => {
    const [alice, bora, chul, stranger] = await Promise.all([walker(), walker(b), walker(), walker()]);
    const invited = waitFor(bora.socket, 'session.invited');
    const created = await ack(alice.socket, 'session.create', { invitees: [bora.id, chul.id] });
    expect(created.ok, JSON.stringify(created)).to.equal(true);
    expect(created.session).to.include({ id: created.sessionId, createdBy: alice.id, status: 'open', source: 'direct', closeReason: null });
    const states = Object.fromEntries(created.session.participants.map((p: { userId: string; status: string }) => [p.userId, p.status]));
    expect(states).to.deep.equal({ [alice.id]: 'active', [bora.id]: 'invited', [chul.id]: 'invited' });
    expect(await invited).to.deep.include({ sessionId: created.sessionId, createdBy: alice.id, participants: [alice.id, bora.id, chul.id] });

    const refused = await ack(stranger.socket, 'session.join', { sessionId: created.sessionId });
    expect(refused).to.deep.include({ ok: false });
    expect(refused.error.code).to.equal('not_found');
    const strangerFix = await ack(stranger.socket, 'position', fix(created.sessionId, OUTSIDE));
    expect(strangerFix.error.code).to.equal('not_found');
    // An invitee who has not joined may not send positions yet.
    const early = await ack(chul.socket, 'position', fix(created.sessionId, OUTSIDE));
    expect(early.error.code).to.equal('not_joined');

    const joined = await ack(bora.socket, 'session.join', { sessionId: created.sessionId });
    expect(joined.ok, JSON.stringify(joined)).to.equal(true);
    expect(joined.positions).to.deep.equal([]);

    // Inviting yourself, nobody, a user who does not exist, or more than nine: refused, naming the field.
    for (const invitees of [[alice.id], [], ['3f2a8c1e-5b7d-4e9f-a1c3-0d2e4f6a8b9c'], Array.from({ length: 10 }, () => crypto.randomUUID()), [bora.id, bora.id]]) {
      const bad = await ack(alice.socket, 'session.create', { invitees });
      expect(bad.ok, JSON.stringify(invitees)).to.equal(false);
      expect(bad.error.code).to.equal('validation_failed');
      expect(bad.error.errors[0].field).to.equal('invitees');
    }
  });

  it('relays a position to the other walkers, not back to any socket of the sender', async () => {
    const [alice, bora, chul] = await Promise.all([walker(), walker(b), walker()]);
    const sessionId = await session([alice, bora, chul]);
    const aliceOther = await socketFor(a, alice);
    expect((await ack(aliceOther, 'session.join', { sessionId })).ok).to.equal(true);
    const toAlice = [...[alice.socket, aliceOther].map((s) => record(s, 'session.position'))];

    const atBora = waitFor(bora.socket, 'session.position');
    const atChul = waitFor(chul.socket, 'session.position');
    const sent = fix(sessionId, OUTSIDE, { accuracy: 7.5 });
    const r = await ack(alice.socket, 'position', sent);
    expect(r, JSON.stringify(r)).to.deep.equal({ ok: true, blurred: false });
    const want = { sessionId, userId: alice.id, lat: OUTSIDE.lat, lng: OUTSIDE.lng, t: sent.t, accuracy: 7.5, blurred: false };
    expect(await atBora).to.deep.equal(want);
    expect(await atChul).to.deep.equal(want);

    // Bora's position reaches Alice after Alice's own would have: she got only Bora's.
    const atAlice = Promise.all([waitFor(alice.socket, 'session.position'), waitFor(aliceOther, 'session.position')]);
    expect((await ack(bora.socket, 'position', fix(sessionId, INSIDE))).ok).to.equal(true);
    expect((await atAlice).map((p) => p.userId)).to.deep.equal([bora.id, bora.id]);
    expect(toAlice.flat().map((p) => p.userId)).to.deep.equal([bora.id, bora.id]);
  });

  it('takes at most one position a second per walker: a faster one is refused and not relayed', async () => {
    const [alice, bora] = await Promise.all([walker(), walker(b)]);
    const sessionId = await session([alice, bora]);
    const atBora = record(bora.socket, 'session.position');
    const first = fix(sessionId, OUTSIDE);
    expect((await ack(alice.socket, 'position', first)).ok).to.equal(true);
    const second = await ack(alice.socket, 'position', fix(sessionId, OUTSIDE, { t: first.t + 100 }));
    expect(second.ok).to.equal(false);
    expect(second.error.code).to.equal('rate_limited');
    expect(second.error.retryAfterMs).to.be.within(1, 1000);
    // A second socket of the same walker shares the limit.
    const other = await socketFor(a, alice);
    expect((await ack(other, 'position', fix(sessionId, OUTSIDE))).error.code).to.equal('rate_limited');
    await sleep(second.error.retryAfterMs + 20);
    const third = fix(sessionId, INSIDE);
    const arrived = waitFor(bora.socket, 'session.position', (p) => p.t === third.t);
    expect((await ack(alice.socket, 'position', third)).ok).to.equal(true);
    await arrived;
    expect(atBora.map((p) => p.t)).to.deep.equal([first.t, third.t]);
  });

  it('refuses hostile positions naming the field, never an internal error', async () => {
    const [alice, bora] = await Promise.all([walker(), walker()]);
    const sessionId = await session([alice, bora]);
    const atBora = record(bora.socket, 'session.position');
    const good = fix(sessionId, OUTSIDE);
    const cases: [Record<string, unknown>, string][] = [
      [{ ...good, lat: 'NaN' }, 'lat'],
      [{ ...good, lng: 'Infinity' }, 'lng'],
      [{ ...good, lat: null }, 'lat'],
      [{ ...good, lat: 90.0001 }, 'lat'],
      [{ ...good, lng: -180.5 }, 'lng'],
      [{ ...good, lat: Array.from({ length: 50_000 }, () => 1) }, 'lat'],
      [{ ...good, accuracy: -1 }, 'accuracy'],
      [{ ...good, accuracy: 1e308 }, 'accuracy'],
      [{ ...good, t: '2026-11-27T00:00:00Z' }, 't'],
      [{ ...good, t: 1.5 }, 't'],
      [{ ...good, t: Date.now() + 3600_000 }, 't'],
      [{ ...good, t: Date.now() - 24 * 3600_000 }, 't'],
      [{ ...good, sessionId: '../../etc/passwd' }, 'sessionId'],
      [{ sessionId, lat: good.lat, lng: good.lng, t: good.t }, 'accuracy'],
      [{ lat: good.lat, lng: good.lng, t: good.t, accuracy: 3 }, 'sessionId'],
    ];
    for (const [payload, field] of cases) {
      const r = await ack(alice.socket, 'position', payload);
      const label = `${field}: ${JSON.stringify(payload).slice(0, 100)}`;
      expect(r.ok, label).to.equal(false);
      expect(r.error.code, label).to.equal('validation_failed');
      expect(r.error.errors.map((e: { field: string }) => e.field), label).to.include(field);
    }
    for (const payload of [undefined, 'text', [1, 2], 42]) {
      const r = await ack(alice.socket, 'position', payload);
      expect(r.error.code).to.equal('validation_failed');
    }
    // Nothing of that reached anyone, and the walker can still send.
    const arrived = waitFor(bora.socket, 'session.position');
    expect((await ack(alice.socket, 'position', good)).ok).to.equal(true);
    await arrived;
    expect(atBora.map((p) => p.t)).to.deep.equal([good.t]);
  });

  it('blurs a position inside the sender\'s home zone: one fixed point for the zone, never the fix, wide enough to cover it', async () => {
    const [alice, bora] = await Promise.all([walker(a, [{ lat: 35.1, lng: 129.04, radiusM: 500 }, HOME]), walker(b, [{ ...OUTSIDE, radiusM: 2000 }])]);
    const sessionId = await session([alice, bora]);
    const raw: string[] = [];
    bora.socket.onAny((event, payload) => raw.push(JSON.stringify([event, payload])));

    const seen: any[] = [];
    for (const at of [INSIDE, INSIDE_2]) {
      const arrived = waitFor(bora.socket, 'session.position');
      const r = await ack(alice.socket, 'position', fix(sessionId, at, { accuracy: 4 }));
      expect(r, JSON.stringify(r)).to.deep.equal({ ok: true, blurred: true });
      seen.push(await arrived);
      await sleep(1000);
    }
    const [p1, p2] = seen;
    expect(p1.blurred).to.equal(true);
    // The same point for every fix in the zone: walking around at home draws nothing.
    expect([p2.lat, p2.lng, p2.accuracy]).to.deep.equal([p1.lat, p1.lng, p1.accuracy]);
    for (const [exact, got] of [[INSIDE, p1], [INSIDE_2, p2]] as const) {
      expect(distanceM(exact, got)).to.be.above(50);
      // The fix lies within the circle the others are shown, and so does the whole zone.
      expect(got.accuracy).to.be.at.least(distanceM(exact, got));
      expect(got.accuracy).to.be.at.least(distanceM(HOME, got) + HOME.radiusM);
    }
    // Not the zone's own centre either.
    expect(distanceM(HOME, p1)).to.be.above(1);
    // The exact coordinates appear in nothing Bora's socket received.
    for (const v of [INSIDE.lat, INSIDE.lng, INSIDE_2.lat, INSIDE_2.lng]) expect(raw.join('\n')).not.to.include(String(v));

    // Outside her zones Alice is exact again; Bora inside his own zone is blurred for Alice.
    const exact = waitFor(bora.socket, 'session.position');
    expect((await ack(alice.socket, 'position', fix(sessionId, { lat: 37.55, lng: 126.95 }))).ok).to.equal(true);
    expect(await exact).to.deep.include({ lat: 37.55, lng: 126.95, blurred: false });
    const atAlice = waitFor(alice.socket, 'session.position');
    expect((await ack(bora.socket, 'position', fix(sessionId, OUTSIDE))).blurred).to.equal(true);
    expect((await atAlice).blurred).to.equal(true);
    // What a reconnect is given is the blurred form too.
    const later = await socketFor(b, bora);
    const rejoined = await ack(later, 'session.join', { sessionId });
    expect(rejoined.positions.map((p: any) => [p.userId, p.blurred])).to.deep.equal([[alice.id, false]]);
  });

  it('tells the others who joined, went stale (no position for the window), is active again, and left', async () => {
    const [alice, bora] = await Promise.all([walker(), walker(b)]);
    const created = await ack(alice.socket, 'session.create', { invitees: [bora.id] });
    const { sessionId } = created;
    const presence = record(alice.socket, 'session.presence');
    const joinedEvent = waitFor(alice.socket, 'session.presence', (p) => p.userId === bora.id && p.status === 'joined');
    expect((await ack(bora.socket, 'session.join', { sessionId })).ok).to.equal(true);
    expect(await joinedEvent).to.deep.include({ sessionId, userId: bora.id, status: 'joined' });

    // Bora sends nothing: stale after the window (1 s here), announced once, by one node.
    const stale = await waitFor(alice.socket, 'session.presence', (p) => p.userId === bora.id && p.status === 'stale');
    expect(stale.sessionId).to.equal(sessionId);
    const [row] = await db().execute(`select stale_at from walk_session_participants where session_id = ? and user_id = ?`, [sessionId, bora.id]);
    expect(row.stale_at).to.not.equal(null);
    const aliceView = await ack(await socketFor(a, alice), 'session.join', { sessionId });
    expect(aliceView.session.participants.find((p: any) => p.userId === bora.id).status).to.equal('stale');

    // A position brings Bora back.
    const active = waitFor(alice.socket, 'session.presence', (p) => p.userId === bora.id && p.status === 'active');
    expect((await ack(bora.socket, 'position', fix(sessionId, OUTSIDE))).ok).to.equal(true);
    await active;

    const left = waitFor(alice.socket, 'session.presence', (p) => p.userId === bora.id && p.status === 'left');
    expect(await ack(bora.socket, 'session.leave', { sessionId })).to.deep.equal({ ok: true, closed: false });
    await left;
    // Leaving again changes nothing; a position after leaving is refused.
    expect(await ack(bora.socket, 'session.leave', { sessionId })).to.deep.equal({ ok: true, closed: false });
    expect((await ack(bora.socket, 'position', fix(sessionId, OUTSIDE))).error.code).to.equal('not_joined');
    const staleOnce = presence.filter((p) => p.userId === bora.id && p.status === 'stale');
    expect(staleOnce).to.have.length(1);
  });

  it('closes when the last walker leaves, when the creator ends it, and when the creator\'s walk ends', async () => {
    const [alice, bora, chul] = await Promise.all([walker(), walker(b), walker()]);
    const status = async (id: string) => (await db().execute(`select status, close_reason from walk_sessions where id = ?`, [id]))[0];

    const s1 = await session([alice, bora]);
    expect((await ack(alice.socket, 'session.leave', { sessionId: s1 })).closed).to.equal(false);
    expect((await ack(bora.socket, 'session.leave', { sessionId: s1 })).closed).to.equal(true);
    expect(await status(s1)).to.deep.equal({ status: 'closed', close_reason: 'everyone_left' });
    expect((await ack(alice.socket, 'session.join', { sessionId: s1 })).error.code).to.equal('session_closed');

    const s2 = await session([alice, bora, chul]);
    expect((await ack(bora.socket, 'session.end', { sessionId: s2 })).error.code).to.equal('not_session_creator');
    const toBora = waitFor(bora.socket, 'session.closed', (e) => e.sessionId === s2);
    const toChul = waitFor(chul.socket, 'session.closed', (e) => e.sessionId === s2);
    expect(await ack(alice.socket, 'session.end', { sessionId: s2 })).to.deep.equal({ ok: true });
    expect(await toBora).to.deep.include({ reason: 'ended' });
    expect(await toChul).to.deep.include({ reason: 'ended' });
    expect((await ack(chul.socket, 'position', fix(s2, OUTSIDE))).error.code).to.equal('session_closed');

    // The walk service calls this when a walk is posted: Bora's own session ends, Alice's she leaves.
    const s3 = await session([bora, chul]);
    const s4 = await session([alice, bora, chul]);
    const closed = waitFor(chul.socket, 'session.closed', (e) => e.sessionId === s3);
    const left = waitFor(alice.socket, 'session.presence', (p) => p.sessionId === s4 && p.userId === bora.id && p.status === 'left');
    const outcome = await together(a).endSessionsOfWalker(bora.id);
    expect(outcome).to.deep.equal({ ended: [s3], left: [s4] });
    expect(await closed).to.deep.include({ reason: 'walk_ended' });
    await left;
    expect(await status(s4)).to.deep.equal({ status: 'open', close_reason: null });
  });

  it('gives a reconnecting walker the others\' last positions and presence, on any node', async () => {
    const [alice, bora, chul] = await Promise.all([walker(), walker(b), walker()]);
    const sessionId = await session([alice, bora, chul]);
    const fromAlice = fix(sessionId, OUTSIDE);
    const fromChul = fix(sessionId, { lat: 37.57, lng: 126.98 });
    const both = Promise.all([waitFor(bora.socket, 'session.position', (p) => p.userId === alice.id), waitFor(bora.socket, 'session.position', (p) => p.userId === chul.id)]);
    expect((await ack(alice.socket, 'position', fromAlice)).ok).to.equal(true);
    expect((await ack(chul.socket, 'position', fromChul)).ok).to.equal(true);
    await both;
    bora.socket.close();
    // Back on the other node (the same one without Redis).
    const again = await socketFor(a, bora);
    const rejoined = await ack(again, 'session.join', { sessionId });
    expect(rejoined.ok, JSON.stringify(rejoined)).to.equal(true);
    const byUser = Object.fromEntries(rejoined.positions.map((p: any) => [p.userId, p]));
    expect(Object.keys(byUser).sort()).to.deep.equal([alice.id, chul.id].sort());
    expect(byUser[alice.id]).to.deep.include({ lat: OUTSIDE.lat, lng: OUTSIDE.lng, t: fromAlice.t, blurred: false });
    expect(byUser[chul.id]).to.deep.include({ lat: 37.57, lng: 126.98, t: fromChul.t });
    expect(rejoined.session.participants.map((p: any) => p.status)).to.not.include('left');
    // And it hears the next position there.
    await sleep(1000);
    const next = waitFor(again, 'session.position', (p) => p.userId === alice.id);
    expect((await ack(alice.socket, 'position', fix(sessionId, INSIDE))).ok).to.equal(true);
    expect((await next).lat).to.equal(INSIDE.lat);
  });

  it('closes a session whose walkers have all gone quiet for long (abandoned)', async () => {
    const quick = await startNode({ ...env, WALK_TOGETHER_ABANDON_SECONDS: '1', NODE_ID: 'walk-together-abandon' });
    try {
      const alice = await walker(quick);
      const bora = await walker(quick);
      const sessionId = await session([alice, bora]);
      const closed = await waitFor(alice.socket, 'session.closed', (e) => e.sessionId === sessionId, 8000);
      expect(closed.reason).to.equal('abandoned');
    } finally {
      closeAllSockets();
      await quick.shutdown('test done');
    }
  });

  (redisUrl ? it : it.skip)('works across two nodes: each sees the other\'s positions, blurred inside home zones', async () => {
    const alice = await walker(a, [HOME]);
    const bora = await walker(b);
    const sessionId = await session([alice, bora]);
    const atBora = waitFor(bora.socket, 'session.position');
    expect((await ack(alice.socket, 'position', fix(sessionId, INSIDE))).blurred).to.equal(true);
    const got = await atBora;
    expect(got).to.include({ userId: alice.id, blurred: true });
    expect(distanceM(INSIDE, got)).to.be.above(50);
    const atAlice = waitFor(alice.socket, 'session.position');
    expect((await ack(bora.socket, 'position', fix(sessionId, OUTSIDE))).blurred).to.equal(false);
    expect(await atAlice).to.include({ userId: bora.id, lat: OUTSIDE.lat, lng: OUTSIDE.lng, blurred: false });
    // The 1 Hz limit holds across nodes: Bora's socket on node a shares it.
    const boraOnA = await socketFor(a, bora);
    expect((await ack(boraOnA, 'position', fix(sessionId, OUTSIDE))).error.code).to.equal('rate_limited');
  });
});
