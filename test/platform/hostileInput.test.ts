// Hostile values stop at the validation edge with a 400 naming the field, on every route and socket
// event alike: NUL characters, lone UTF-16 surrogates, integers beyond bigint.
import { expect } from 'chai';
import { connectSocket, connected, newUser, request, startNode, stopAllNodes } from '../helpers.ts';

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
