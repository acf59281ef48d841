// Hostile values stop at the validation edge with a 400 naming the field, on every route and socket
// event alike: NUL characters, lone UTF-16 surrogates, integers beyond bigint, cursors that decode
// to nonsense, dates outside the accepted range. A client that hangs up mid-body is no error at all.
// (test/platform/fuzz.test.ts walks every operation and event with such values.)
import net from 'node:net';
import { expect } from 'chai';
import { connectSocket, connected, newUser, request, startNode, startNodeWithLogs, stopAllNodes, type LogLine } from '../helpers.ts';

describe('platform: hostile input stops at the edge', () => {
  after(() => stopAllNodes());

  it('answers 400 naming the field for NUL, lone surrogates and out-of-range ids, over HTTP and sockets', async () => {
    const node = await startNode();
    const u = await newUser(node);
    const nulName = await request(node, 'PATCH', '/auth/me', { token: u.accessToken, body: { displayName: 'a\u0000b' } });
    expect(nulName.status).to.equal(400);
    expect(nulName.body.errors[0]).to.include({ field: 'displayName', in: 'body' });
    const nulQuery = await request(node, 'GET', '/payments/products?module=%00');
    expect(nulQuery.status).to.equal(400);
    expect(nulQuery.body.errors[0]).to.include({ field: 'module', in: 'query' });
    const surrogate = await request(node, 'POST', '/payments/orders', { token: u.accessToken, raw: '{"productId":"widgets.pack","metadata":{"note":"ab\\ud800cd"}}', headers: { 'idempotency-key': 'k-hostile-1' } });
    expect(surrogate.status).to.equal(400);
    expect(surrogate.body.errors[0]).to.include({ field: 'metadata.note', in: 'body' });
    const nulKey = await request(node, 'POST', '/payments/orders', { token: u.accessToken, raw: '{"productId":"widgets.pack","metadata":{"a\\u0000":1}}', headers: { 'idempotency-key': 'k-hostile-2' } });
    expect(nulKey.status).to.equal(400);
    const huge = await request(node, 'PUT', '/notifications/9999999999999999999/read', { token: u.accessToken });
    expect(huge.status).to.equal(400);
    expect(huge.body.errors[0]).to.include({ field: 'id', in: 'path' });

    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const ack = await socket.emitWithAck('notifications.sync', { after: '1\u0000' });
    expect(ack.ok).to.equal(false);
    expect(ack.error.code).to.equal('validation_failed');
    expect(ack.error.errors[0]).to.include({ field: 'after', in: 'payload' });
    const tooBig = await socket.emitWithAck('notifications.sync', { after: '9999999999999999999' });
    expect(tooBig.error.code).to.equal('validation_failed');
    socket.close();
  });
});

describe('platform: bodies that lie about their encoding', () => {
  after(() => stopAllNodes());

  it('answers 400 invalid_body_encoding for gzip, deflate and br claims that are not', async () => {
    const node = await startNode();
    const u = await newUser(node);
    for (const encoding of ['gzip', 'deflate', 'br']) {
      const res = await request(node, 'PATCH', '/auth/me', { token: u.accessToken, raw: '{"displayName":"x"}', headers: { 'content-encoding': encoding } });
      expect(res.status, encoding).to.equal(400);
      expect(res.body.code).to.equal('invalid_body_encoding');
      expect(res.headers.get('content-type')).to.include('application/problem+json');
    }
  });
});

describe('platform: cursors and date ranges are validated after decoding', () => {
  after(() => stopAllNodes());
  const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

  it('answers 400 invalid_cursor naming the field for a cursor that decodes to nonsense', async () => {
    const node = await startNode();
    const u = await newUser(node);
    const id = '3f2a8c1e-5b7d-4e9f-a1c3-0d2e4f6a8b9c';
    const cases: [string, unknown][] = [
      ['/api/coach/history', { at: '2024-01-01T00:00:00.000Z', id: 'not-a-uuid' }],
      ['/api/coach/history', { at: '-271821-04-20T00:00:00.000Z', id }],
      ['/api/coach/history', { at: '+275760-09-13T00:00:00.000Z', id }],
      ['/api/coach/history', { at: '1999-12-31T23:59:59.999Z', id }],
      ['/api/coach/history', { at: 'yesterday', id }],
      ['/notifications', { before: '-1' }],
      ['/notifications', { before: '9999999999999999999' }],
      ['/notifications', null],
    ];
    for (const [path, key] of cases) {
      const res = await request(node, 'GET', `${path}?cursor=${b64(key)}`, { token: u.accessToken });
      expect(res.status, JSON.stringify(key)).to.equal(400);
      expect(res.body.code, JSON.stringify(key)).to.equal('invalid_cursor');
      expect(res.body.errors, JSON.stringify(key)).to.deep.equal([{ field: 'cursor', in: 'query', message: 'is not a cursor this API returned' }]);
    }
    // Characters outside base64url are refused rather than skipped by the decoder.
    const spliced = await request(node, 'GET', `/notifications?cursor=${encodeURIComponent(`!${b64({ before: '5' })}`)}`, { token: u.accessToken });
    expect(spliced.body.code).to.equal('invalid_cursor');
    expect((await request(node, 'GET', `/notifications?cursor=${b64({ before: '5' })}`, { token: u.accessToken })).status).to.equal(200);
  });

  it('answers 400 naming the field for admin report dates outside 2000-01-01..2099-12-31', async () => {
    const node = await startNode();
    const admin = await newUser(node);
    await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
    for (const [query, field] of [['from=0000-01-01', 'from'], ['to=9999-12-31', 'to'], ['from=1999-12-31&to=2000-01-05', 'from'], ['from=2099-12-01&to=2100-01-01', 'to'], ['from=-271821-04-20', 'from']]) {
      const res = await request(node, 'GET', `/admin/stats?${query}`, { token: admin.accessToken });
      expect(res.status, query).to.equal(400);
      expect(res.body.errors.map((e: { field: string }) => e.field), query).to.include(field);
    }
    const edge = await request(node, 'GET', '/admin/stats?from=2099-12-01', { token: admin.accessToken });
    expect(edge.status).to.equal(200);
    expect(edge.body).to.include({ from: '2099-12-01', to: '2099-12-30' });
  });
});

describe('platform: a client that hangs up mid-body', () => {
  after(() => stopAllNodes());

  // Sends the headers of a body of 1000 bytes, a few of them, then cuts the connection.
  async function hangUp(port: number, path: string, contentType: string): Promise<void> {
    const socket = net.connect(port, '127.0.0.1');
    await new Promise((resolve) => socket.once('connect', resolve));
    socket.write(`POST ${path} HTTP/1.1\r\nHost: x\r\nContent-Type: ${contentType}\r\nContent-Length: 1000\r\n\r\n{"email":"a@b.c",`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    socket.destroy();
  }

  async function until(check: () => boolean): Promise<void> {
    for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
  }

  it('is logged at debug as a client that went away (499), not as an unhandled error', async () => {
    const { node, logs } = await startNodeWithLogs({}, 'debug');
    // A parsed JSON body (koa-body) and a raw one (a webhook's, read by the route layer).
    for (const path of ['/auth/login', '/webhooks/sandbox']) {
      const seen = logs.length;
      await hangUp(node.port, path, 'application/json');
      const line = (l: LogLine) => l.msg === 'request' && l.route === path;
      await until(() => logs.slice(seen).some(line));
      const lines = logs.slice(seen);
      expect(lines.filter((l) => l.level >= 50), path).to.deep.equal([]);
      expect(lines.find(line), path).to.include({ status: 499, level: 30 });
      expect(lines.some((l) => l.msg === 'client went away mid-request' && l.level === 20), path).to.equal(true);
    }
  });
});
