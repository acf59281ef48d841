import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { closeAllSockets, nextEvent, connectError, connectSocket, connected, newUser, request, startNode, stopAllNodes } from '../helpers.ts';

describe('realtime: /notifications authentication, acks and limits (single node)', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode({ SOCKET_EVENTS_PER_10S: '5', CORS_ORIGINS: 'https://app.example' });
  });
  afterEach(closeAllSockets);
  after(stopAllNodes);

  it('connects with a valid token and answers whoami with an ok ack', async () => {
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const ack = await socket.emitWithAck('whoami', {});
    expect(ack).to.include({ ok: true, userId: u.id, node: node.ctx.config.NODE_ID });
  });

  it('refuses a missing, an invalid and an expired token with connect_error and a code', async () => {
    const missing = await connectError(connectSocket(node, '/notifications', undefined));
    expect(missing.message).to.match(/access token/);
    expect(missing.data?.code).to.equal('missing_token');
    const invalid = await connectError(connectSocket(node, '/notifications', { token: 'abc.def.ghi' }));
    expect(invalid.data?.code).to.equal('invalid_token');
  });

  it('refuses a token whose session was signed out, and the main namespace', async () => {
    const u = await newUser(node);
    await request(node, 'POST', '/auth/logout', { token: u.accessToken });
    const err = await connectError(connectSocket(node, '/notifications', { token: u.accessToken }));
    expect(err.data?.code).to.equal('session_revoked');
    const root = await connectError(connectSocket(node, '/', { token: u.accessToken }));
    expect(root.data?.code).to.equal('no_namespace');
  });

  it('refuses a browser whose Origin is not on the allow-list, and accepts one that is', async () => {
    const u = await newUser(node);
    const foreign = connectSocket(node, '/notifications', { token: u.accessToken }, { transports: ['polling'], extraHeaders: { origin: 'https://evil.example' } });
    const err = await connectError(foreign);
    expect(err.message).to.match(/xhr poll error|403|Forbidden/i);
    const friendly = connectSocket(node, '/notifications', { token: u.accessToken }, { transports: ['polling'], extraHeaders: { origin: 'https://app.example' } });
    await connected(friendly);
  });

  it('acks a payload that fails validation with validation_failed and the field', async () => {
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const ack = await socket.emitWithAck('whoami', { unexpected: 1 });
    expect(ack.ok).to.equal(false);
    expect(ack.error.code).to.equal('validation_failed');
    expect(ack.error.message).to.match(/unexpected/);
  });

  it('names each field at fault in the ack\'s `errors`, as a REST problem does', async () => {
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const ack = await socket.emitWithAck('notifications.sync', { limit: 0 });
    expect(ack.ok).to.equal(false);
    expect(ack.error.code).to.equal('validation_failed');
    expect(ack.error.errors).to.have.length(1);
    expect(ack.error.errors[0]).to.include({ field: 'limit', in: 'payload' });
    expect(ack.error.errors[0].message).to.be.a('string').and.not.be.empty;
    expect(ack.error.message).to.match(/^limit: /);
  });

  it('rate-limits events per socket', async () => {
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const acks = [];
    for (let i = 0; i < 7; i++) acks.push(await socket.emitWithAck('whoami', {}));
    expect(acks.slice(0, 5).every((a) => a.ok)).to.equal(true);
    expect(acks[5]).to.deep.include({ ok: false });
    expect(acks[5].error.code).to.equal('rate_limited');
    expect(acks[5].error.retryAfter).to.be.a('number').and.to.be.greaterThan(0);
  });

  it('disconnects the sockets of a session on logout, and leaves the user\'s other sessions connected', async () => {
    const u = await newUser(node);
    const other = await request(node, 'POST', '/auth/login', { body: { email: u.email, password: u.password } });
    const a = connectSocket(node, '/notifications', { token: u.accessToken });
    const b = connectSocket(node, '/notifications', { token: other.body.accessToken });
    await Promise.all([connected(a), connected(b)]);
    const gone = nextEvent(a, 'disconnect');
    await request(node, 'POST', '/auth/logout', { token: u.accessToken });
    const reason = await gone;
    expect(reason).to.equal('io server disconnect');
    expect(b.connected).to.equal(true);
    const bGone = nextEvent(b, 'disconnect');
    await request(node, 'POST', '/auth/logout', { token: other.body.accessToken, body: { allSessions: true } });
    await bGone;
  });

  it('counts connections per namespace in /metrics', async () => {
    const u = await newUser(node);
    const socket = connectSocket(node, '/notifications', { token: u.accessToken });
    await connected(socket);
    const metrics = await request(node, 'GET', '/metrics');
    expect(metrics.body).to.match(/socket_connections\{namespace="notifications"[^}]*\} [1-9]/);
    expect(metrics.body).to.match(/nodejs_eventloop_lag_p99_seconds/);
    expect(metrics.body).to.match(/worker_pool_queue_size/);
    expect(metrics.body).to.match(/http_request_duration_seconds_bucket\{[^}]*route="\/auth\/register"/);
  });
});
