import crypto from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('identity: email sign-up, sign-in and tokens', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode();
  });
  after(stopAllNodes);

  describe('POST /auth/register', () => {
    it('creates the account and signs in, with camelCase JSON and a zoned timestamp', async () => {
      const res = await request(node, 'POST', '/auth/register', { body: { email: 'Mixed.Case@Example.com', password: 'correct horse 42', username: 'Reg_User' } });
      expect(res.status).to.equal(201);
      expect(res.body.user).to.include({ email: 'mixed.case@example.com', username: 'reg_user', role: 'user', displayName: null });
      expect(res.body.user.createdAt).to.match(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+09:00$/);
      expect(res.body.accessToken).to.be.a('string');
      expect(res.body.refreshToken).to.match(/^rt_/);
      expect(res.body.user).to.not.have.property('passwordHash');
    });

    it('refuses a duplicate email (any case) and a duplicate username with 409 naming the field', async () => {
      const u = await newUser(node);
      const dupEmail = await request(node, 'POST', '/auth/register', { body: { email: u.email.toUpperCase(), password: 'correct horse 42', username: 'someone_else1' } });
      expect(dupEmail.status).to.equal(409);
      expect(dupEmail.body).to.include({ code: 'email_taken' });
      expect(dupEmail.body.errors[0].field).to.equal('email');
      const dupName = await request(node, 'POST', '/auth/register', { body: { email: 'fresh-address@example.com', password: 'correct horse 42', username: u.username } });
      expect(dupName.status).to.equal(409);
      expect(dupName.body).to.include({ code: 'username_taken' });
    });

    it('lets exactly one of two racing sign-ups with the same email win', async () => {
      const body = { email: 'race@example.com', password: 'correct horse 42' };
      const results = await Promise.all([
        request(node, 'POST', '/auth/register', { body: { ...body, username: 'racer_one' } }),
        request(node, 'POST', '/auth/register', { body: { ...body, username: 'racer_two' } }),
      ]);
      expect(results.map((r) => r.status).sort()).to.deep.equal([201, 409]);
    });

    it('answers a weak password and a bad email with 400 problem+json naming each field', async () => {
      const res = await request(node, 'POST', '/auth/register', { body: { email: 'not-an-email', password: 'aaaaaaaaaa', username: 'ok_name' } });
      expect(res.status).to.equal(400);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body.code).to.equal('validation_failed');
      const fields = res.body.errors.map((e: { field: string }) => e.field);
      expect(fields).to.include('email').and.to.include('password');
      expect(res.body.errors.find((e: { field: string }) => e.field === 'password').message).to.match(/digit|repetitive/);
    });

    it('answers malformed JSON with 400 invalid_json and an oversized body with 413', async () => {
      const bad = await request(node, 'POST', '/auth/register', { raw: '{"email":' });
      expect(bad.status).to.equal(400);
      expect(bad.body.code).to.equal('invalid_json');
      const huge = await request(node, 'POST', '/auth/register', { raw: JSON.stringify({ email: 'x'.repeat(2 * 1024 * 1024) }) });
      expect(huge.status).to.equal(413);
      expect(huge.body.code).to.equal('payload_too_large');
    });
  });

  describe('POST /auth/login', () => {
    it('signs in with the right password', async () => {
      const u = await newUser(node);
      const res = await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } });
      expect(res.status).to.equal(200);
      expect(res.body.user.id).to.equal(u.id);
    });

    it('gives the same 401 for an unknown email and a wrong password, in comparable time', async () => {
      const u = await newUser(node);
      const time = async (email: string) => {
        const t = performance.now();
        const res = await request(node, 'POST', '/auth/login', { body: { email, password: 'wrong password 9' } });
        return { res, ms: performance.now() - t };
      };
      const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
      const wrong: number[] = [];
      const unknown: number[] = [];
      let wrongBody: unknown;
      let unknownBody: unknown;
      for (let i = 0; i < 5; i++) {
        const a = await time(u.email);
        const b = await time(`nobody${i}@example.com`);
        expect(a.res.status).to.equal(401);
        expect(b.res.status).to.equal(401);
        wrong.push(a.ms);
        unknown.push(b.ms);
        wrongBody = { code: a.res.body.code, detail: a.res.body.detail };
        unknownBody = { code: b.res.body.code, detail: b.res.body.detail };
      }
      expect(wrongBody).to.deep.equal(unknownBody);
      // Both paths run one argon2 verify; without the dummy hash the unknown email would be ~100x faster.
      const ratio = median(unknown) / median(wrong);
      expect(ratio).to.be.within(0.5, 2);
    });
  });

  describe('access tokens', () => {
    const secret = () => node.ctx.config.JWT_SECRET;
    const claims = (u: { id: string }) => ({ sub: u.id, sid: crypto.randomUUID(), role: 'user', typ: 'access' });
    const signed = (payload: object, opts: jwt.SignOptions & { key?: jwt.Secret } = {}) => {
      const { key, ...rest } = opts;
      return jwt.sign(payload, key ?? secret(), { algorithm: 'HS256', issuer: node.ctx.config.JWT_ISSUER, audience: node.ctx.config.JWT_AUDIENCE, expiresIn: 60, ...rest });
    };

    it('GET /auth/me answers the owner of a valid token', async () => {
      const u = await newUser(node);
      const res = await request(node, 'GET', '/auth/me', { token: u.accessToken });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ id: u.id, username: u.username });
    });

    it('refuses a missing token, a tampered one, an expired one, and wrong-algorithm / none / foreign tokens', async () => {
      const u = await newUser(node);
      const [h, p, s] = u.accessToken.split('.');
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      const tampered = `${h}.${Buffer.from(JSON.stringify({ ...payload, role: 'admin' })).toString('base64url')}.${s}`;
      const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`;
      const { privateKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
      const cases: Record<string, { token?: string; code: string }> = {
        missing: { token: undefined, code: 'missing_token' },
        tampered: { token: tampered, code: 'invalid_token' },
        expired: { token: signed(claims(u), { expiresIn: -10 }), code: 'token_expired' },
        hs512: { token: signed(claims(u), { algorithm: 'HS512' }), code: 'invalid_token' },
        rs256: { token: jwt.sign(claims(u), privateKey, { algorithm: 'RS256', issuer: node.ctx.config.JWT_ISSUER, audience: node.ctx.config.JWT_AUDIENCE }), code: 'invalid_token' },
        none: { token: none, code: 'invalid_token' },
        wrongIssuer: { token: signed(claims(u), { issuer: 'someone-else' }), code: 'invalid_token' },
        wrongAudience: { token: signed(claims(u), { audience: 'another-app' }), code: 'invalid_token' },
        wrongType: { token: signed({ ...claims(u), typ: 'refresh' }), code: 'invalid_token' },
        otherSecret: { token: signed(claims(u), { key: 'x'.repeat(40) }), code: 'invalid_token' },
        garbage: { token: 'not.a.jwt', code: 'invalid_token' },
      };
      for (const [name, c] of Object.entries(cases)) {
        const res = await request(node, 'GET', '/auth/me', { token: c.token });
        expect(res.status, name).to.equal(401);
        expect(res.body.code, name).to.equal(c.code);
        expect(res.headers.get('www-authenticate'), name).to.equal('Bearer');
      }
    });
  });

  describe('POST /auth/refresh', () => {
    it('rotates: the new pair works, the old refresh token is spent', async () => {
      const u = await newUser(node);
      const first = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
      expect(first.status).to.equal(200);
      expect(first.body.refreshToken).to.not.equal(u.refreshToken);
      const me = await request(node, 'GET', '/auth/me', { token: first.body.accessToken });
      expect(me.status).to.equal(200);
      const second = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: first.body.refreshToken } });
      expect(second.status).to.equal(200);
    });

    it('revokes the whole family when a spent token is presented again (reuse detection)', async () => {
      const u = await newUser(node);
      const rotated = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
      expect(rotated.status).to.equal(200);
      const replay = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
      expect(replay.status).to.equal(401);
      expect(replay.body.code).to.equal('refresh_token_reused');
      // The thief's replay also kills the legitimate holder's newer token.
      const legit = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: rotated.body.refreshToken } });
      expect(legit.status).to.equal(401);
      // Other sessions of the same user are untouched.
      const login = await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } });
      expect((await request(node, 'POST', '/auth/refresh', { body: { refreshToken: login.body.refreshToken } })).status).to.equal(200);
    });

    it('lets only one of two concurrent refreshes with one token succeed', async () => {
      const u = await newUser(node);
      const results = await Promise.all([1, 2].map(() => request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } })));
      expect(results.filter((r) => r.status === 200)).to.have.length(1);
      expect(results.filter((r) => r.status === 401)).to.have.length(1);
    });

    it('refuses an unknown token with 401 and a malformed body with 400', async () => {
      const unknown = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: 'rt_' + 'x'.repeat(43) } });
      expect(unknown.status).to.equal(401);
      expect(unknown.body.code).to.equal('invalid_refresh_token');
      const missing = await request(node, 'POST', '/auth/refresh', { body: {} });
      expect(missing.status).to.equal(400);
      expect(missing.body.errors[0].field).to.equal('refreshToken');
    });
  });

  describe('POST /auth/logout', () => {
    it('revokes this session only, unless allSessions is set', async () => {
      const u = await newUser(node);
      const other = await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } });
      expect((await request(node, 'POST', '/auth/logout', { token: u.accessToken })).status).to.equal(204);
      expect((await request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } })).status).to.equal(401);
      const stillThere = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: other.body.refreshToken } });
      expect(stillThere.status).to.equal(200);
      expect((await request(node, 'POST', '/auth/logout', { token: stillThere.body.accessToken, body: { allSessions: true } })).status).to.equal(204);
      expect((await request(node, 'POST', '/auth/refresh', { body: { refreshToken: stillThere.body.refreshToken } })).status).to.equal(401);
    });

    it('ends the access token too: the signed-out session gets 401 session_revoked on reads and writes, the other session does not', async () => {
      const u = await newUser(node);
      const other = await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } });
      // Cached as live on this node before the sign-out.
      expect((await request(node, 'GET', '/auth/me', { token: u.accessToken })).status).to.equal(200);
      expect((await request(node, 'POST', '/auth/logout', { token: u.accessToken })).status).to.equal(204);
      const read = await request(node, 'GET', '/auth/me', { token: u.accessToken });
      expect(read.status).to.equal(401);
      expect(read.body.code).to.equal('session_revoked');
      expect((await request(node, 'PATCH', '/auth/me', { token: u.accessToken, body: { displayName: 'after logout' } })).status).to.equal(401);
      expect((await request(node, 'GET', '/auth/me', { token: other.body.accessToken })).status).to.equal(200);
      // Signing out everywhere ends the other session's access token as well.
      expect((await request(node, 'POST', '/auth/logout', { token: other.body.accessToken, body: { allSessions: true } })).status).to.equal(204);
      expect((await request(node, 'GET', '/auth/me', { token: other.body.accessToken })).status).to.equal(401);
    });

    it('ends the access token of a session revoked for refresh-token reuse', async () => {
      const u = await newUser(node);
      expect((await request(node, 'GET', '/auth/me', { token: u.accessToken })).status).to.equal(200);
      const rotated = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } });
      expect((await request(node, 'POST', '/auth/refresh', { body: { refreshToken: u.refreshToken } })).body.code).to.equal('refresh_token_reused');
      for (const token of [u.accessToken, rotated.body.accessToken]) {
        const res = await request(node, 'GET', '/auth/me', { token });
        expect(res.status).to.equal(401);
        expect(res.body.code).to.equal('session_revoked');
      }
    });

    it('answers a valid token of a deleted account with 401, not 404', async () => {
      const u = await newUser(node);
      expect((await request(node, 'GET', '/auth/me', { token: u.accessToken })).status).to.equal(200);
      await node.ctx.db.orm.em.fork().execute('delete from users where id = ?', [u.id]);
      // An operator's delete in psql is not announced; the caches' 30 s TTL would end it. Announce it here.
      node.ctx.invalidation.publish('user', u.id);
      const res = await request(node, 'GET', '/auth/me', { token: u.accessToken });
      expect(res.status).to.equal(401);
      expect(res.body.code).to.equal('account_not_found');
    });
  });

  describe('PATCH /auth/me', () => {
    it('changes the username and display name, refusing a taken username and an empty body', async () => {
      const a = await newUser(node);
      const b = await newUser(node);
      // Read first, so the user (and its /auth/me view) sits in the node's cache when it changes.
      expect((await request(node, 'GET', '/auth/me', { token: a.accessToken })).body.displayName).to.equal(null);
      const ok = await request(node, 'PATCH', '/auth/me', { token: a.accessToken, body: { displayName: '산책왕', username: `${a.username}_x` } });
      expect(ok.status).to.equal(200);
      expect(ok.body).to.include({ displayName: '산책왕', username: `${a.username}_x` });
      const taken = await request(node, 'PATCH', '/auth/me', { token: a.accessToken, body: { username: b.username } });
      expect(taken.status).to.equal(409);
      expect(taken.body.errors[0].field).to.equal('username');
      expect((await request(node, 'PATCH', '/auth/me', { token: a.accessToken, body: {} })).status).to.equal(400);
      expect((await request(node, 'GET', '/auth/me', { token: a.accessToken })).body).to.include({ displayName: '산책왕', username: `${a.username}_x` });
    });
  });

  describe('roles and disabled accounts', () => {
    it('only admins may disable an account; a disabled account cannot use or renew its tokens', async () => {
      const admin = await newUser(node);
      const victim = await newUser(node);
      const forbidden = await request(node, 'PUT', `/admin/users/${admin.id}/disabled`, { token: victim.accessToken, body: { disabled: true } });
      expect(forbidden.status).to.equal(403);
      expect(forbidden.body.code).to.equal('admin_only');
      await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
      const adminLogin = await request(node, 'POST', '/auth/login', { body: { email: admin.email, password: admin.password } });
      const res = await request(node, 'PUT', `/admin/users/${victim.id}/disabled`, { token: adminLogin.body.accessToken, body: { disabled: true } });
      expect(res.status).to.equal(200);
      expect((await request(node, 'GET', '/auth/me', { token: victim.accessToken })).body.code).to.equal('account_disabled');
      expect((await request(node, 'POST', '/auth/refresh', { body: { refreshToken: victim.refreshToken } })).status).to.equal(401);
      expect((await request(node, 'POST', '/auth/login', { body: { email: victim.email, password: victim.password } })).status).to.equal(403);
      const badId = await request(node, 'PUT', '/admin/users/not-a-uuid/disabled', { token: adminLogin.body.accessToken, body: { disabled: true } });
      expect(badId.status).to.equal(400);
      expect(badId.body.errors[0]).to.include({ field: 'userId', in: 'path' });
    });
  });
});
