import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { expect } from 'chai';
import Koa from 'koa';
import { Server } from 'socket.io';
import { z } from 'zod';
import { bindClientEvent, defineClientEvent, type AppSocket, type EventDeps } from '../../realtime/events.ts';
import { problemMiddleware } from '../../server/http/problem.ts';
import type { ApiNode } from '../../server/node.ts';
import { AppError, toErrorBody, validationError } from '../../services/errors.ts';
import { closeAllSockets, connectSocket, connected, request, startNode, stopAllNodes } from '../helpers.ts';

// What services/coach/quota.ts throws when a plan's questions are used up.
const quotaExceeded = () =>
  new AppError(429, 'quota_exceeded', 'The free plan allows 3 questions per day; the limit resets at 2024-01-02T00:00:00+09:00', {
    extra: { resetAt: '2024-01-02T00:00:00+09:00', limit: 3, period: 'day', retryAfter: 3600 },
  });

describe('platform: one error body for REST and socket acks', () => {
  describe('toErrorBody', () => {
    it('keeps an AppError\'s status, code, message, field list and extra fields', () => {
      expect(toErrorBody(quotaExceeded())).to.deep.equal({
        status: 429,
        code: 'quota_exceeded',
        message: 'The free plan allows 3 questions per day; the limit resets at 2024-01-02T00:00:00+09:00',
        resetAt: '2024-01-02T00:00:00+09:00',
        limit: 3,
        period: 'day',
        retryAfter: 3600,
      });
      const invalid = toErrorBody(validationError([{ field: 'question', in: 'body', message: 'Required' }]));
      expect(invalid).to.deep.equal({ status: 400, code: 'validation_failed', message: 'question: Required', errors: [{ field: 'question', in: 'body', message: 'Required' }] });
    });

    it('lets no extra field replace the status, code, message or field list', () => {
      const body = toErrorBody(new AppError(409, 'taken', 'Already taken', { extra: { status: 200, code: 'ok', message: 'fine', errors: [], since: 3 } }));
      expect(body).to.deep.equal({ status: 409, code: 'taken', message: 'Already taken', since: 3 });
    });

    it('turns anything else into a 500 internal_error that echoes nothing', () => {
      const expected = { status: 500, code: 'internal_error', message: 'An unexpected error occurred' };
      expect(toErrorBody(new Error('relation "users_gone" does not exist'))).to.deep.equal(expected);
      expect(toErrorBody(Object.assign(new Error('upstream said no'), { status: 404 }))).to.deep.equal(expected);
      expect(toErrorBody('a string')).to.deep.equal(expected);
      expect(toErrorBody(undefined)).to.deep.equal(expected);
    });
  });

  describe('over HTTP and Socket.IO', () => {
    let node: ApiNode;
    let server: http.Server;
    let io: Server;
    let url: string;

    before(async () => {
      node = await startNode();
      // A bare Koa app and Socket.IO server whose route and event throw the same errors, rendered by
      // the same problemMiddleware and bindClientEvent the api node uses.
      const app = new Koa();
      app.use(problemMiddleware(node.ctx.logger));
      app.use((ctx) => {
        if (ctx.path === '/quota') throw quotaExceeded();
        if (ctx.path === '/invalid') throw validationError([{ field: 'question', in: 'body', message: 'Required' }]);
        // An SDK's error carrying its upstream status is not the client's fault.
        if (ctx.path === '/upstream') throw Object.assign(new Error('upstream secret detail'), { status: 404 });
        // Koa's own errors (http-errors) say their message may be shown.
        if (ctx.path === '/koa') ctx.throw(400, 'Header too long');
      });
      server = http.createServer(app.callback());
      io = new Server(server);
      const deps: EventDeps = { orm: node.ctx.db.orm, logger: node.ctx.logger, metrics: node.ctx.metrics, eventLimiter: { consume: async () => null } };
      const events = [
        defineClientEvent({ event: 'quota', summary: 'throws the quota error', schema: z.object({}).strict(), handler: async () => { throw quotaExceeded(); } }),
        defineClientEvent({ event: 'ask', summary: 'validates a question', schema: z.object({ question: z.string() }).strict(), handler: async () => ({}) }),
        defineClientEvent({ event: 'boom', summary: 'fails unexpectedly', schema: z.object({}), handler: async () => { throw new Error('connection to 10.0.0.3 refused'); } }),
      ];
      io.of('/notifications').on('connection', (socket) => {
        for (const e of events) bindClientEvent('notifications', socket as AppSocket, e, deps);
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterEach(closeAllSockets);
    after(async () => {
      await io.close();
      await stopAllNodes();
    });

    it('gives a quota error the same code, message and extra fields in problem+json and in the ack', async () => {
      const rest = await request({ url }, 'GET', '/quota');
      expect(rest.status).to.equal(429);
      expect(rest.headers.get('content-type')).to.match(/application\/problem\+json/);
      expect(rest.headers.get('retry-after')).to.equal('3600');
      expect(rest.body).to.deep.include({ type: '/problems/quota_exceeded', title: 'Too Many Requests', status: 429, instance: '/quota', code: 'quota_exceeded' });
      const socket = connectSocket({ url }, '/notifications', undefined);
      await connected(socket);
      const ack = await socket.emitWithAck('quota', {});
      expect(ack.ok).to.equal(false);
      const { status, code, message, ...extra } = toErrorBody(quotaExceeded());
      expect(ack.error).to.deep.equal({ code, message, ...extra });
      expect(extra).to.include({ resetAt: '2024-01-02T00:00:00+09:00', limit: 3 });
      expect(rest.body).to.deep.include({ status, code, detail: message, ...extra });
      expect(rest.body).to.not.have.property('errors');
    });

    it('names the fields at fault as `errors` on both transports', async () => {
      const rest = await request({ url }, 'GET', '/invalid');
      expect(rest.status).to.equal(400);
      expect(rest.body.code).to.equal('validation_failed');
      expect(rest.body.errors).to.deep.equal([{ field: 'question', in: 'body', message: 'Required' }]);
      const socket = connectSocket({ url }, '/notifications', undefined);
      await connected(socket);
      const ack = await socket.emitWithAck('ask', { question: 42 });
      expect(ack.error.code).to.equal('validation_failed');
      expect(ack.error.errors).to.have.length(1);
      expect(ack.error.errors[0]).to.include({ field: 'question', in: 'payload' });
      expect(ack.error.message).to.match(/^question: /);
      expect(ack.error).to.not.have.property('fields');
    });

    it('answers an unexpected failure with internal_error on both, without its message', async () => {
      const rest = await request({ url }, 'GET', '/upstream');
      expect(rest.status).to.equal(500);
      expect(rest.body).to.include({ code: 'internal_error', detail: 'An unexpected error occurred' });
      expect(JSON.stringify(rest.body)).to.not.match(/upstream secret/);
      const socket = connectSocket({ url }, '/notifications', undefined);
      await connected(socket);
      const ack = await socket.emitWithAck('boom', {});
      expect(ack).to.deep.equal({ ok: false, error: { code: 'internal_error', message: 'An unexpected error occurred' } });
    });

    it('keeps mapping Koa\'s own client errors to bad_request', async () => {
      const res = await request({ url }, 'GET', '/koa');
      expect(res.status).to.equal(400);
      expect(res.body).to.include({ code: 'bad_request', detail: 'Header too long' });
    });
  });
});
