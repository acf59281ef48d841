// Per-app token lifetimes on one identity system: a sign-in that names an app module gets the
// lifetimes that module declares (the test module `widgets` declares the walk app's 60 min / 7 days),
// keeps them through refreshes, and one naming no app gets the platform's defaults.
import crypto from 'node:crypto';
import { expect } from 'chai';
import jwt from 'jsonwebtoken';
import type { ApiNode } from '../../server/node.ts';
import { checkModules, defineModule, ModuleError } from '../../server/module.ts';
import { request, startNode, stopAllNodes, type JsonResponse } from '../helpers.ts';

const HOUR = 60 * 60;
const WEEK = 7 * 24 * HOUR;

describe('identity: token lifetimes per app module', () => {
  let node: ApiNode;
  before(async () => {
    // The platform's defaults, set apart from the module's so every assertion tells them apart.
    node = await startNode({ ACCESS_TOKEN_TTL_SECONDS: '900', REFRESH_TOKEN_TTL_SECONDS: String(14 * 24 * HOUR) });
  });
  after(stopAllNodes);

  const unique = () => crypto.randomBytes(4).toString('hex');
  const lifetimeOf = (accessToken: string) => {
    const claims = jwt.decode(accessToken) as { exp: number; iat: number };
    return claims.exp - claims.iat;
  };
  const sessionExpiry = async (res: JsonResponse) => {
    const sid = (jwt.decode(res.body.accessToken) as { sid: string }).sid;
    const [row] = await node.ctx.db.orm.em.fork().execute<{ app: string | null; expires_at: Date }[]>('select app, expires_at from refresh_token_families where id = ?', [sid]);
    return { app: row.app, inSeconds: (new Date(row.expires_at).getTime() - Date.now()) / 1000 };
  };
  const register = (app?: string) =>
    request(node, 'POST', '/auth/register', { body: { email: `life_${unique()}@example.com`, password: 'walk the dog 42', username: `life_${unique()}`, ...(app ? { app } : {}) } });

  it('gives a sign-in naming the app its module\'s lifetimes: access 60 min, refresh 7 days', async () => {
    const res = await register('widgets');
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    expect(res.body).to.include({ accessTokenExpiresIn: HOUR, refreshTokenExpiresIn: WEEK });
    expect(lifetimeOf(res.body.accessToken)).to.equal(HOUR);
    const session = await sessionExpiry(res);
    expect(session.app).to.equal('widgets');
    expect(session.inSeconds).to.be.within(WEEK - 60, WEEK + 5);
  });

  it('keeps the session\'s app and lifetimes through refreshes', async () => {
    const first = await register('widgets');
    const refreshed = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: first.body.refreshToken } });
    expect(refreshed.status).to.equal(200);
    expect(refreshed.body).to.include({ accessTokenExpiresIn: HOUR, refreshTokenExpiresIn: WEEK });
    expect(lifetimeOf(refreshed.body.accessToken)).to.equal(HOUR);
    const session = await sessionExpiry(refreshed);
    expect(session.app).to.equal('widgets');
    expect(session.inSeconds).to.be.within(WEEK - 60, WEEK + 5);
    // The refreshed token works like any other.
    expect((await request(node, 'GET', '/auth/me', { token: refreshed.body.accessToken })).status).to.equal(200);
  });

  it('gives a sign-in naming no app, or an app declaring none, the platform\'s defaults', async () => {
    for (const app of [undefined, 'coach']) {
      const res = await register(app);
      expect(res.body, String(app)).to.include({ accessTokenExpiresIn: 900, refreshTokenExpiresIn: 14 * 24 * HOUR });
      expect(lifetimeOf(res.body.accessToken)).to.equal(900);
      const refreshed = await request(node, 'POST', '/auth/refresh', { body: { refreshToken: res.body.refreshToken } });
      expect(lifetimeOf(refreshed.body.accessToken)).to.equal(900);
      expect((await sessionExpiry(refreshed)).app).to.equal(app ?? null);
    }
  });

  it('applies the app to password sign-in and social sign-in alike', async () => {
    const reg = await register();
    const email = reg.body.user.email;
    const login = await request(node, 'POST', '/auth/login', { body: { email, password: 'walk the dog 42', app: 'widgets' } });
    expect(login.status).to.equal(200);
    expect(lifetimeOf(login.body.accessToken)).to.equal(HOUR);
    // This node runs the offline dev issuer: a Kakao sign-in for the app.
    const minted = await request(node, 'POST', '/dev/oauth/kakao/token', { body: { subject: `k-${unique()}`, email: `k_${unique()}@example.com` } });
    const social = await request(node, 'POST', '/auth/oauth/kakao', { body: { accessToken: minted.body.accessToken, app: 'widgets' } });
    expect(social.status).to.equal(200);
    expect(social.body).to.include({ accessTokenExpiresIn: HOUR, refreshTokenExpiresIn: WEEK });
    expect((await sessionExpiry(social)).app).to.equal('widgets');
  });

  it('answers 400 naming `app` for an app that is not a listed module, before doing anything', async () => {
    const email = `nobody_${unique()}@example.com`;
    const minted = await request(node, 'POST', '/dev/oauth/kakao/token', { body: { subject: `k-${unique()}` } });
    const attempts = [
      request(node, 'POST', '/auth/register', { body: { email, password: 'walk the dog 42', username: `n_${unique()}`, app: 'nosuchapp' } }),
      request(node, 'POST', '/auth/login', { body: { email, password: 'walk the dog 42', app: 'nosuchapp' } }),
      request(node, 'POST', '/auth/oauth/kakao', { body: { accessToken: minted.body.accessToken, app: 'nosuchapp' } }),
      request(node, 'POST', '/auth/login', { body: { email, password: 'walk the dog 42', app: 'Not An App!' } }),
    ];
    for (const res of await Promise.all(attempts)) {
      expect(res.status).to.equal(400);
      expect(res.body.errors.map((e: { field: string }) => e.field)).to.deep.equal(['app']);
    }
    // The refused registration made no account.
    const login = await request(node, 'POST', '/auth/login', { body: { email, password: 'walk the dog 42' } });
    expect(login.body.code).to.equal('invalid_credentials');
  });

  it('refuses a module list with impossible lifetimes', () => {
    const bad = (tokenLifetimes: { accessSeconds: number; refreshSeconds: number }) =>
      defineModule({ name: 'lifetimes', summary: 'test', tokenLifetimes, createServices: () => ({}) });
    expect(() => checkModules([bad({ accessSeconds: 0, refreshSeconds: 60 })])).to.throw(ModuleError, /positive whole seconds/);
    expect(() => checkModules([bad({ accessSeconds: 7200, refreshSeconds: 3600 })])).to.throw(ModuleError, /must not exceed/);
    expect(() => checkModules([bad({ accessSeconds: HOUR, refreshSeconds: WEEK })])).to.not.throw();
  });
});
