import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('platform: HTTP edge', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode({ CORS_ORIGINS: 'https://app.example' });
  });
  after(stopAllNodes);

  it('serves /health, /ready and /metrics', async () => {
    expect((await request(node, 'GET', '/health')).body).to.deep.equal({ status: 'ok' });
    const ready = await request(node, 'GET', '/ready');
    expect(ready.status).to.equal(200);
    expect(ready.body.checks).to.include({ postgres: 'ok' });
    const metrics = await request(node, 'GET', '/metrics');
    expect(metrics.headers.get('content-type')).to.match(/text\/plain/);
    expect(metrics.body).to.match(/http_request_duration_seconds/);
  });

  it('guards /metrics with METRICS_TOKEN when one is configured', async () => {
    const guarded = await startNode({ METRICS_TOKEN: 'scrape-token-0123456789' });
    const missing = await request(guarded, 'GET', '/metrics');
    expect(missing.status).to.equal(401);
    expect(missing.body.code).to.equal('metrics_token_required');
    expect((await request(guarded, 'GET', '/metrics', { token: 'scrape-token-012345678' })).status).to.equal(401);
    // A user's access token is not a scrape token.
    const u = await newUser(guarded);
    expect((await request(guarded, 'GET', '/metrics', { token: u.accessToken })).status).to.equal(401);
    const scraped = await request(guarded, 'GET', '/metrics', { token: 'scrape-token-0123456789' });
    expect(scraped.status).to.equal(200);
    expect(scraped.body).to.match(/http_request_duration_seconds/);
  });

  it('publishes OpenAPI 3.1 with the auth routes and the socket events, and Swagger UI at /docs', async () => {
    const doc = (await request(node, 'GET', '/openapi.json')).body;
    expect(doc.openapi).to.equal('3.1.0');
    for (const path of ['/auth/register', '/auth/login', '/auth/refresh', '/auth/logout', '/auth/me', '/auth/oauth/{provider}']) {
      expect(doc.paths, path).to.have.property(path);
    }
    expect(doc.paths['/auth/register'].post.requestBody.content['application/json'].schema).to.exist;
    expect(doc.paths['/auth/me'].get.security).to.deep.equal([{ bearerAuth: [] }]);
    const socketEvents = doc['x-socket-io'] as { namespace: string; event: string; direction: string; payload: { properties?: Record<string, unknown> } }[];
    expect(socketEvents.find((e) => e.event === 'whoami')?.direction).to.equal('client-to-server');
    // What a client listens for is documented too, with its payload's schema.
    const delta = socketEvents.find((e) => e.namespace === 'coach' && e.event === 'answer.delta');
    expect(delta?.direction).to.equal('server-to-client');
    expect(delta?.payload.properties).to.have.all.keys('answerId', 'offset', 'text');
    const pushed = socketEvents.find((e) => e.namespace === 'notifications' && e.event === 'notification');
    expect(pushed?.payload.properties).to.have.all.keys('notification', 'unreadCount');
    const html = await request(node, 'GET', '/docs');
    expect(html.status).to.equal(200);
    expect(html.body).to.match(/swagger-ui-bundle\.js/);
    expect((await request(node, 'GET', '/docs/swagger-ui-bundle.js')).status).to.equal(200);
  });

  it('answers unknown routes and methods with problem+json', async () => {
    const missing = await request(node, 'GET', '/nope');
    expect(missing.status).to.equal(404);
    expect(missing.body.code).to.equal('not_found');
    expect(missing.headers.get('content-type')).to.match(/problem\+json/);
    // A known first segment with an unknown rest is the same 404, not a 405.
    expect((await request(node, 'GET', '/auth/nope')).body.code).to.equal('not_found');
    const wrongMethod = await request(node, 'DELETE', '/auth/me');
    expect(wrongMethod.status).to.equal(405);
    expect(wrongMethod.body.code).to.equal('method_not_allowed');
    expect(wrongMethod.headers.get('content-type')).to.match(/problem\+json/);
    expect(wrongMethod.headers.get('allow')?.split(/,\s*/)).to.include.members(['GET', 'PATCH']);
    const options = await request(node, 'OPTIONS', '/auth/me');
    expect(options.status).to.equal(200);
    expect(options.headers.get('allow')?.split(/,\s*/)).to.include.members(['GET', 'PATCH']);
  });

  it('matches paths case-insensitively and with a trailing slash, as @koa/router does', async () => {
    const u = await newUser(node);
    expect((await request(node, 'GET', '/AUTH/ME', { token: u.accessToken })).body.id).to.equal(u.id);
    expect((await request(node, 'GET', '/auth/me/', { token: u.accessToken })).body.id).to.equal(u.id);
    expect((await request(node, 'GET', '/Health')).body).to.deep.equal({ status: 'ok' });
  });

  it('sets security headers, a request id, and CORS only for allowed origins', async () => {
    const res = await request(node, 'GET', '/health', { headers: { origin: 'https://app.example', 'x-request-id': 'lb-request-12345' } });
    expect(res.headers.get('x-content-type-options')).to.equal('nosniff');
    expect(res.headers.get('x-request-id')).to.equal('lb-request-12345');
    expect(res.headers.get('access-control-allow-origin')).to.equal('https://app.example');
    const foreign = await request(node, 'GET', '/health', { headers: { origin: 'https://evil.example' } });
    expect(foreign.headers.get('access-control-allow-origin')).to.equal(null);
  });

  it('never leaks internals: an unexpected failure is a 500 problem without a stack', async () => {
    const u = await newUser(node);
    await node.ctx.db.orm.em.fork().execute('alter table users rename to users_gone');
    try {
      const res = await request(node, 'GET', '/auth/me', { token: u.accessToken });
      expect(res.status).to.equal(500);
      expect(res.body.code).to.equal('internal_error');
      expect(JSON.stringify(res.body)).to.not.match(/users_gone|select|at .*\.ts/);
    } finally {
      await node.ctx.db.orm.em.fork().execute('alter table users_gone rename to users');
    }
  });

  it('rate-limits sign-in attempts per IP with 429 and Retry-After', async () => {
    const limited = await startNode({ RATE_LIMIT_AUTH_PER_MINUTE: '3' });
    const body = { email: 'brute@example.com', password: 'guess number 1' };
    const statuses = [];
    let last;
    for (let i = 0; i < 4; i++) {
      last = await request(limited, 'POST', '/auth/login', { body });
      statuses.push(last.status);
    }
    expect(statuses).to.deep.equal([401, 401, 401, 429]);
    expect(last!.body.code).to.equal('rate_limited');
    expect(Number(last!.headers.get('retry-after'))).to.be.greaterThan(0);
  });

  it('rate-limits per user as well as per IP', async () => {
    const limited = await startNode({ RATE_LIMIT_USER_PER_MINUTE: '2' });
    const a = await newUser(limited);
    const b = await newUser(limited);
    const statuses = [];
    for (let i = 0; i < 3; i++) statuses.push((await request(limited, 'GET', '/auth/me', { token: a.accessToken })).status);
    expect(statuses).to.deep.equal([200, 200, 429]);
    expect((await request(limited, 'GET', '/auth/me', { token: b.accessToken })).status).to.equal(200);
  });

});

describe('platform: the client address behind proxies', () => {
  after(stopAllNodes);

  it('is the one the outermost trusted proxy saw: what a client writes into X-Forwarded-For does not dodge the per-IP limit', async () => {
    const node = await startNode({ TRUST_PROXY: 'true', TRUST_PROXY_HOPS: '1', RATE_LIMIT_IP_PER_MINUTE: '2' });
    const from = (forwarded: string) => request(node, 'GET', '/payments/products', { headers: { 'x-forwarded-for': forwarded } });
    // The same client (as nginx appends it) behind three different made-up addresses: one budget.
    const statuses = [];
    for (const spoofed of ['1.1.1.1', '2.2.2.2', '3.3.3.3']) statuses.push((await from(`${spoofed}, 203.0.113.7`)).status);
    expect(statuses).to.deep.equal([200, 200, 429]);
    // Another client still passes.
    expect((await from('1.1.1.1, 203.0.113.8')).status).to.equal(200);
  });
});
