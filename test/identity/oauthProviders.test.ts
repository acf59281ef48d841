// Kakao, Naver and Apple sign-in on the one identity system: the real clients against wire-level
// fakes over HTTP, linking to one account, provider failures, Apple's nonce, hostile input, and the
// offline dev issuer standing in for all of them.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { loadConfig } from '../../server/config.ts';
import { completeProductionEnv, configRefusal } from '../config.ts';
import { startFakeApple, type FakeApple } from '../fakes/apple.ts';
import { startFakeKakao, type FakeKakao } from '../fakes/kakao.ts';
import { startFakeNaver, type FakeNaver } from '../fakes/naver.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

const KAKAO_APP_ID = 1234567;
const APPLE_CLIENT_ID = 'kr.withbowwow.app';

const unique = () => crypto.randomBytes(4).toString('hex');
const kakaoId = () => crypto.randomInt(1, 2 ** 40);

describe('identity: Kakao, Naver and Apple sign-in against their fakes', () => {
  let kakao: FakeKakao;
  let naver: FakeNaver;
  let apple: FakeApple;
  let node: ApiNode;
  before(async () => {
    [kakao, naver, apple] = await Promise.all([startFakeKakao({ appId: KAKAO_APP_ID }), startFakeNaver(), startFakeApple({ clientId: APPLE_CLIENT_ID })]);
    node = await startNode({
      KAKAO_APP_IDS: String(KAKAO_APP_ID),
      KAKAO_API_BASE_URL: kakao.url,
      NAVER_ENABLED: 'true',
      NAVER_API_BASE_URL: naver.url,
      APPLE_CLIENT_IDS: `other.app,${APPLE_CLIENT_ID}`,
      APPLE_JWKS_URL: apple.jwksUrl,
    });
  });
  afterEach(() => {
    kakao.mode = 'up';
    naver.mode = 'up';
    apple.mode = 'up';
  });
  after(async () => {
    await stopAllNodes();
    await Promise.all([kakao.close(), naver.close(), apple.close()]);
  });

  const signIn = (provider: string, body: Record<string, unknown>) => request(node, 'POST', `/auth/oauth/${provider}`, { body });

  it('signs in with a Kakao access token: the user API is asked with the bearer token, the account is made once', async () => {
    const id = kakaoId();
    const email = `kakao_${unique()}@kakao.com`;
    const first = await signIn('kakao', { accessToken: kakao.issueToken({ id, email, nickname: '초코' }) });
    expect(first.status, JSON.stringify(first.body)).to.equal(200);
    expect(first.body.user).to.include({ email, displayName: '초코' });
    const calls = kakao.requests.slice(-2);
    expect(calls.map((r) => r.path).sort()).to.deep.equal(['/v1/user/access_token_info', '/v2/user/me']);
    expect(calls[0].headers.authorization).to.match(/^Bearer /);
    const again = await signIn('kakao', { accessToken: kakao.issueToken({ id, email }) });
    expect(again.body.user.id).to.equal(first.body.user.id);
  });

  it('signs in with a Naver access token', async () => {
    const id = `naver-${unique()}`;
    const res = await signIn('naver', { accessToken: naver.issueToken({ id, email: `${id}@naver.com`, nickname: '산책왕' }) });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.user.displayName).to.equal('산책왕');
    const again = await signIn('naver', { accessToken: naver.issueToken({ id }) });
    expect(again.body.user.id).to.equal(res.body.user.id);
  });

  it('signs in with an Apple id_token bound to the client\'s nonce', async () => {
    const rawNonce = crypto.randomBytes(16).toString('hex');
    const email = `apple_${unique()}@privaterelay.appleid.com`;
    const res = await signIn('apple', { idToken: apple.signIdToken({ sub: `001234.${unique()}`, email }, { rawNonce }), nonce: rawNonce });
    expect(res.status, JSON.stringify(res.body)).to.equal(200);
    expect(res.body.user.email).to.equal(email);
  });

  it('links Kakao then Apple with the same verified email to one account, and finds it again', async () => {
    const email = `link_${unique()}@example.com`;
    const viaKakao = await signIn('kakao', { accessToken: kakao.issueToken({ id: kakaoId(), email, nickname: '몽이' }) });
    const rawNonce = unique() + unique();
    const sub = `000999.${unique()}`;
    const viaApple = await signIn('apple', { idToken: apple.signIdToken({ sub, email }, { rawNonce }), nonce: rawNonce });
    expect(viaApple.status).to.equal(200);
    expect(viaApple.body.user.id).to.equal(viaKakao.body.user.id);
    const again = await signIn('apple', { idToken: apple.signIdToken({ sub, email }, { rawNonce }), nonce: rawNonce });
    expect(again.body.user.id).to.equal(viaKakao.body.user.id);
    const rows = await node.ctx.db.orm.em.fork().execute<{ provider: string }[]>('select provider from identities where user_id = ? order by provider', [viaKakao.body.user.id]);
    expect(rows.map((r) => r.provider)).to.deep.equal(['apple', 'kakao']);
  });

  it('links only on an email the provider verified: not Kakao\'s unverified one, never Naver\'s', async () => {
    const u = await newUser(node);
    const unverified = await signIn('kakao', { accessToken: kakao.issueToken({ id: kakaoId(), email: u.email, emailVerified: false }) });
    expect(unverified.status).to.equal(200);
    expect(unverified.body.user.id).to.not.equal(u.id);
    const viaNaver = await signIn('naver', { accessToken: naver.issueToken({ id: `naver-${unique()}`, email: u.email }) });
    expect(viaNaver.status).to.equal(200);
    expect(viaNaver.body.user.id).to.not.equal(u.id);
    const verified = await signIn('kakao', { accessToken: kakao.issueToken({ id: kakaoId(), email: u.email }) });
    expect(verified.body.user.id).to.equal(u.id);
  });

  it('answers 401 for unknown or expired access tokens, and for a Kakao token issued to another app', async () => {
    const expired = kakao.issueToken({ id: kakaoId() });
    kakao.expire(expired);
    const cases = {
      kakaoUnknown: () => signIn('kakao', { accessToken: 'not-a-kakao-token-at-all' }),
      kakaoExpired: () => signIn('kakao', { accessToken: expired }),
      kakaoOtherApp: () => signIn('kakao', { accessToken: kakao.issueToken({ id: kakaoId(), email: 'x@example.com' }, { appId: 999 }) }),
      naverUnknown: () => signIn('naver', { accessToken: 'AAAAOnot-a-naver-token' }),
    };
    for (const [name, call] of Object.entries(cases)) {
      const res = await call();
      expect(res.status, name).to.equal(401);
      expect(res.body.code, name).to.equal('invalid_access_token');
    }
  });

  it('answers 503 provider_unavailable when Kakao or Naver is down, never 500', async () => {
    kakao.mode = 'down';
    naver.mode = 'down';
    const viaKakao = await signIn('kakao', { accessToken: kakao.issueToken({ id: kakaoId() }) });
    expect(viaKakao.status).to.equal(503);
    expect(viaKakao.body.code).to.equal('provider_unavailable');
    const viaNaver = await signIn('naver', { accessToken: naver.issueToken({ id: 'n-down' }) });
    expect(viaNaver.status).to.equal(503);
    expect(viaNaver.body.code).to.equal('provider_unavailable');
  });

  it('refuses an Apple token without the nonce, with another nonce, for another app, or expired', async () => {
    const rawNonce = crypto.randomBytes(16).toString('hex');
    const sub = `001111.${unique()}`;
    const cases: Record<string, { body: Record<string, unknown>; code: string }> = {
      noNonceSent: { body: { idToken: apple.signIdToken({ sub }, { rawNonce }) }, code: 'nonce_required' },
      otherNonce: { body: { idToken: apple.signIdToken({ sub }, { rawNonce }), nonce: 'a-different-raw-nonce' }, code: 'invalid_nonce' },
      // The client sending the hashed value it gave Apple, rather than its raw nonce, does not pass either.
      hashedNonceSent: { body: { idToken: apple.signIdToken({ sub }, { rawNonce }), nonce: crypto.createHash('sha256').update(rawNonce).digest('hex') }, code: 'invalid_nonce' },
      noNonceInToken: { body: { idToken: apple.signIdToken({ sub }), nonce: rawNonce }, code: 'invalid_nonce' },
      otherAudience: { body: { idToken: apple.signIdToken({ sub, aud: 'com.someone.else' }, { rawNonce }), nonce: rawNonce }, code: 'invalid_id_token' },
      otherIssuer: { body: { idToken: apple.signIdToken({ sub, iss: 'https://accounts.google.com' }, { rawNonce }), nonce: rawNonce }, code: 'invalid_id_token' },
      expired: { body: { idToken: apple.signIdToken({ sub }, { rawNonce, expiresIn: -60 }), nonce: rawNonce }, code: 'id_token_expired' },
    };
    for (const [name, c] of Object.entries(cases)) {
      const res = await signIn('apple', c.body);
      expect(res.status, name).to.equal(401);
      expect(res.body.code, name).to.equal(c.code);
    }
  });

  it('answers 400 naming the field a provider takes when it is missing, and for hostile input', async () => {
    const cases: [string, Record<string, unknown>, string][] = [
      ['kakao', { idToken: 'x'.repeat(40) }, 'accessToken'],
      ['apple', { accessToken: 'x'.repeat(40), nonce: 'n'.repeat(16) }, 'idToken'],
      ['kakao', { accessToken: `abc\u0000${'x'.repeat(20)}` }, 'accessToken'],
      ['naver', { accessToken: 'x'.repeat(100_000) }, 'accessToken'],
      ['apple', { idToken: 'x'.repeat(9000), nonce: 'n'.repeat(16) }, 'idToken'],
      ['apple', { idToken: 'x'.repeat(40), nonce: 'n'.repeat(5000) }, 'nonce'],
      ['apple', { idToken: 'x'.repeat(40), nonce: 'n\u0000nonce-raw' }, 'nonce'],
      ['kakao', { accessToken: 'x'.repeat(40), app: 'walk\u0000' }, 'app'],
    ];
    for (const [provider, body, field] of cases) {
      const res = await signIn(provider, body);
      expect(res.status, `${provider} ${field}`).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field), `${provider} ${field}`).to.include(field);
    }
  });

  it('does not serve Google while only Kakao, Naver and Apple are configured', async () => {
    const res = await signIn('google', { idToken: 'x'.repeat(40) });
    expect(res.status).to.equal(404);
    expect(res.body.code).to.equal('unknown_provider');
  });
});

describe('identity: Apple sign-in while Apple\'s key endpoint is down', () => {
  let apple: FakeApple;
  let node: ApiNode;
  before(async () => {
    apple = await startFakeApple({ clientId: APPLE_CLIENT_ID });
    node = await startNode({ APPLE_CLIENT_IDS: APPLE_CLIENT_ID, APPLE_JWKS_URL: apple.jwksUrl });
  });
  after(async () => {
    await stopAllNodes();
    await apple.close();
  });

  it('answers 503 provider_unavailable, then signs in once Apple is back', async () => {
    const rawNonce = crypto.randomBytes(16).toString('hex');
    const idToken = apple.signIdToken({ sub: `002222.${unique()}`, email: `down_${unique()}@example.com` }, { rawNonce });
    apple.mode = 'down';
    const down = await request(node, 'POST', '/auth/oauth/apple', { body: { idToken, nonce: rawNonce } });
    expect(down.status).to.equal(503);
    expect(down.body.code).to.equal('provider_unavailable');
    apple.mode = 'up';
    const up = await request(node, 'POST', '/auth/oauth/apple', { body: { idToken, nonce: rawNonce } });
    expect(up.status).to.equal(200);
  });
});

describe('identity: the offline dev issuer stands in for Kakao, Naver and Apple', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  const mint = (provider: string, body: Record<string, unknown>) => request(node, 'POST', `/dev/oauth/${provider}/token`, { body });

  it('mints opaque access tokens for kakao and naver that sign in, and refuses forged ones', async () => {
    for (const provider of ['kakao', 'naver']) {
      const minted = await mint(provider, { subject: `dev-${provider}-${unique()}`, email: `${provider}_${unique()}@example.com`, nickname: '보리' });
      expect(minted.status).to.equal(200);
      expect(minted.body).to.include({ provider, offline: true });
      expect(minted.body.accessToken).to.be.a('string');
      expect(minted.body.idToken).to.equal(undefined);
      const res = await request(node, 'POST', `/auth/oauth/${provider}`, { body: { accessToken: minted.body.accessToken } });
      expect(res.status, provider).to.equal(200);
      expect(res.body.user.displayName).to.equal('보리');
      const forged = await request(node, 'POST', `/auth/oauth/${provider}`, { body: { accessToken: `${minted.body.accessToken.slice(0, -4)}AAAA` } });
      expect(forged.status).to.equal(401);
      expect(forged.body.code).to.equal('invalid_access_token');
    }
  });

  it('mints Apple id_tokens with the nonce claim and checks the raw nonce like the real one', async () => {
    const rawNonce = crypto.randomBytes(16).toString('hex');
    const nonce = crypto.createHash('sha256').update(rawNonce).digest('hex');
    const email = `apple_${unique()}@example.com`;
    const minted = await mint('apple', { subject: `dev-apple-${unique()}`, email, nonce });
    expect(minted.body.idToken).to.be.a('string');
    const ok = await request(node, 'POST', '/auth/oauth/apple', { body: { idToken: minted.body.idToken, nonce: rawNonce } });
    expect(ok.status).to.equal(200);
    expect(ok.body.user.email).to.equal(email);
    const missing = await request(node, 'POST', '/auth/oauth/apple', { body: { idToken: minted.body.idToken } });
    expect(missing.status).to.equal(401);
    expect(missing.body.code).to.equal('nonce_required');
    const wrong = await request(node, 'POST', '/auth/oauth/apple', { body: { idToken: minted.body.idToken, nonce: 'some-other-raw-nonce' } });
    expect(wrong.status).to.equal(401);
    expect(wrong.body.code).to.equal('invalid_nonce');
  });

  it('links offline Kakao and Apple sign-ins with one email to one account', async () => {
    const email = `offline_${unique()}@example.com`;
    const k = await mint('kakao', { subject: `k-${unique()}`, email });
    const viaKakao = await request(node, 'POST', '/auth/oauth/kakao', { body: { accessToken: k.body.accessToken } });
    const rawNonce = unique() + unique();
    const a = await mint('apple', { subject: `a-${unique()}`, email, nonce: crypto.createHash('sha256').update(rawNonce).digest('hex') });
    const viaApple = await request(node, 'POST', '/auth/oauth/apple', { body: { idToken: a.body.idToken, nonce: rawNonce } });
    expect(viaApple.body.user.id).to.equal(viaKakao.body.user.id);
  });

  it('is refused in production, and not needed there once any provider is configured', () => {
    const { GOOGLE_CLIENT_IDS: _google, ...withoutGoogle } = completeProductionEnv();
    expect(configRefusal(withoutGoogle)).to.match(/offline dev issuer/);
    expect(configRefusal({ ...completeProductionEnv(), OAUTH_OFFLINE: 'true' })).to.match(/offline dev issuer/);
    for (const provider of [{ KAKAO_APP_IDS: '1234567' }, { NAVER_ENABLED: 'true' }, { APPLE_CLIENT_IDS: APPLE_CLIENT_ID }]) {
      expect(loadConfig({ ...withoutGoogle, ...provider }).oauthOffline, JSON.stringify(provider)).to.equal(false);
    }
    expect(configRefusal({ KAKAO_APP_IDS: 'my-kakao-app' })).to.match(/KAKAO_APP_IDS[.0-9]*: Kakao app ids are numbers/);
  });
});
