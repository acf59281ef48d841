// Issue 13's "done when", as one story on two nodes: two users sign in (Kakao and Apple, against the
// fakes) for the walk app, walk (one walk flagged with its reasons, one accepted), earn a badge exactly
// once, appear in the weekly ranking and "around me", and walk together across the two nodes seeing
// each other's positions, blurred inside the sender's home zone.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { Socket } from 'socket.io-client';
import { moduleServices } from '../../server/context.ts';
import type { ApiNode } from '../../server/node.ts';
import { walkModule } from '../../modules/walk/index.ts';
import { createTestClock } from '../../services/time.ts';
import { startFakeApple, type FakeApple } from '../fakes/apple.ts';
import { startFakeKakao, type FakeKakao } from '../fakes/kakao.ts';
import { closeAllSockets, connectSocket, connected, nextEvent, redisUrl, request, startNode, stopAllNodes } from '../helpers.ts';
import { walk } from '../tracks.ts';

const KAKAO_APP_ID = 771_001;
const APPLE_CLIENT_ID = 'com.withbowwow.app';

describe('walk: done when (issue 13)', function () {
  this.timeout(60_000);
  // Thursday 2026-11-26, 20:00 KST: the week began Monday the 23rd.
  const clock = createTestClock('2026-11-26T20:00:00+09:00');
  let kakao: FakeKakao;
  let apple: FakeApple;
  let a: ApiNode;
  let b: ApiNode;

  before(async function () {
    if (!redisUrl) return this.skip();
    [kakao, apple] = await Promise.all([startFakeKakao({ appId: KAKAO_APP_ID }), startFakeApple({ clientId: APPLE_CLIENT_ID })]);
    const env = {
      REDIS_URL: redisUrl, KAKAO_APP_IDS: String(KAKAO_APP_ID), KAKAO_API_BASE_URL: kakao.url, APPLE_CLIENT_IDS: APPLE_CLIENT_ID, APPLE_JWKS_URL: apple.jwksUrl,
    };
    a = await startNode({ ...env, NODE_ID: 'walk-a' }, clock);
    b = await startNode({ ...env, NODE_ID: 'walk-b' }, clock);
  });
  afterEach(closeAllSockets);
  after(async () => {
    await stopAllNodes();
    await Promise.all([kakao?.close(), apple?.close()]);
  });

  const accessClaims = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString()) as { exp: number; iat: number; sub: string };

  it('signs in, walks, earns a badge once, ranks, and walks together across two nodes', async () => {
    // 1. Sign-in for the walk app: Kakao on node a, Apple on node b; walk tokens live 60 minutes.
    const minji = await request(a, 'POST', '/auth/oauth/kakao', { body: { accessToken: kakao.issueToken({ id: 1_000_001, email: 'minji@kakao.com', emailVerified: true, emailValid: true, nickname: '민지' }), app: 'walk' } });
    expect(minji.status, JSON.stringify(minji.body)).to.equal(200);
    const rawNonce = crypto.randomBytes(16).toString('hex');
    const joon = await request(b, 'POST', '/auth/oauth/apple', { body: { idToken: apple.signIdToken({ sub: '001234.joon', email: 'joon@icloud.com', email_verified: 'true' }, { rawNonce }), nonce: rawNonce, app: 'walk' } });
    expect(joon.status, JSON.stringify(joon.body)).to.equal(200);
    const claims = accessClaims(minji.body.accessToken);
    expect(claims.exp - claims.iat).to.equal(3600);
    const m = { id: minji.body.user.id as string, token: minji.body.accessToken as string };
    const j = { id: joon.body.user.id as string, token: joon.body.accessToken as string };

    // 2. Walks: Minji's car ride is kept but flagged with its reasons; both walk for real.
    const monday = Date.parse('2026-11-23T07:30:00+09:00');
    const car = await request(a, 'POST', '/walks', { token: m.token, body: { clientWalkId: 'car', points: walk({ distanceM: 5000, speedKmh: 35, seed: 3, t0: monday }) } });
    expect(car.body.trusted).to.equal(false);
    expect(car.body.trustReasons.map((r: { code: string }) => r.code)).to.include('too_fast');
    const minjiWalk = { clientWalkId: 'tue', points: walk({ distanceM: 3200, speedKmh: 5, seed: 4, t0: monday + 86_400_000 }) };
    const walked = await request(a, 'POST', '/walks', { token: m.token, body: minjiWalk });
    expect(walked.status).to.equal(201);
    expect(walked.body.trusted).to.equal(true);
    const joonWalk = await request(b, 'POST', '/walks', { token: j.token, body: { clientWalkId: 'wed', points: walk({ distanceM: 2100, speedKmh: 5, seed: 5, t0: monday + 2 * 86_400_000 }) } });
    expect(joonWalk.body.trusted).to.equal(true);

    // 3. The first-walk badge, earned exactly once (a retried upload, on the other node, changes nothing).
    expect((await request(b, 'POST', '/walks', { token: m.token, body: minjiWalk })).status).to.equal(200);
    const firstWalk = (await request(a, 'GET', '/badges/CNT_010', { token: m.token })).body;
    expect(firstWalk.status).to.equal('earned');
    await new Promise((r) => setTimeout(r, 300));
    const inbox = (await request(a, 'GET', '/notifications?limit=50', { token: m.token })).body.items as { type: string; data: { badgeCode?: string } }[];
    expect(inbox.filter((n) => n.type === 'walk.badge_earned' && n.data.badgeCode === 'CNT_010')).to.have.length(1);

    // 4. The weekly ranking and "around me", after the hourly recompute.
    await moduleServices(a.services, walkModule).rankings.recompute();
    // (Other tests' walkers may share this database's week: only the order of these two is asserted.)
    const weekly = (await request(a, 'GET', '/rankings/walks?period=week&metric=distance', { token: m.token })).body;
    const ours = weekly.items.filter((r: { userId: string }) => r.userId === m.id || r.userId === j.id);
    expect(ours.map((r: { userId: string }) => r.userId)).to.deep.equal([m.id, j.id]);
    expect(weekly.mine).to.include({ userId: m.id, value: walked.body.distanceM });
    const around = (await request(b, 'GET', '/rankings/walks/around-me?period=week&metric=distance&span=25', { token: j.token })).body;
    expect(around.mine.userId).to.equal(j.id);
    const ids = around.items.map((r: { userId: string }) => r.userId);
    expect(ids.indexOf(m.id)).to.be.within(0, ids.indexOf(j.id) - 1);

    // 5. Walking together: Minji on node a, Joon on node b, Joon's home zone around where he stands.
    const home = { lat: 37.5172, lng: 127.0473 };
    await request(b, 'PUT', '/walk/profile', { token: j.token, body: { homeZones: [{ ...home, radiusM: 300 }] } });
    const ms = connectSocket(a, '/walk', { token: m.token });
    const js = connectSocket(b, '/walk', { token: j.token });
    await Promise.all([connected(ms), connected(js)]);
    const invited = nextEvent<{ sessionId: string }>(js, 'session.invited');
    const created = await ms.emitWithAck('session.create', { invitees: [j.id] });
    expect(created.ok, JSON.stringify(created)).to.equal(true);
    expect((await invited).sessionId).to.equal(created.sessionId);
    const sessionId = created.sessionId as string;
    const joined = await js.emitWithAck('session.join', { sessionId });
    expect(joined.ok, JSON.stringify(joined)).to.equal(true);

    const seen = (socket: Socket) => nextEvent<{ userId: string; lat: number; lng: number; blurred: boolean; accuracy: number }>(socket, 'session.position');
    const atHome = seen(ms);
    const exact = { lat: home.lat + 0.0004, lng: home.lng - 0.0003 };
    const sent = await js.emitWithAck('position', { sessionId, ...exact, t: clock.now().getTime(), accuracy: 6 });
    expect(sent).to.deep.include({ ok: true, blurred: true });
    const blurred = await atHome;
    expect(blurred).to.include({ userId: j.id, blurred: true });
    expect([blurred.lat, blurred.lng]).to.not.deep.equal([exact.lat, exact.lng]);
    expect(blurred.accuracy).to.be.at.least(300);

    const away = seen(js);
    const street = { lat: 37.5665, lng: 126.978 };
    expect(await ms.emitWithAck('position', { sessionId, ...street, t: clock.now().getTime(), accuracy: 5 })).to.deep.include({ ok: true, blurred: false });
    expect(await away).to.include({ userId: m.id, lat: street.lat, lng: street.lng, blurred: false });

    // Minji's walk ends (she posts it): the session she started closes for Joon on the other node.
    const closed = nextEvent<{ sessionId: string; reason: string }>(js, 'session.closed');
    const together = { clientWalkId: 'together', points: walk({ distanceM: 1500, speedKmh: 5, seed: 6, t0: clock.now().getTime() - 40 * 60_000 }) };
    expect((await request(a, 'POST', '/walks', { token: m.token, body: together })).status).to.equal(201);
    expect(await closed).to.deep.include({ sessionId, reason: 'walk_ended' });
  });
});
