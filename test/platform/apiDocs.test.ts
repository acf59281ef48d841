// The API documents: /openapi.json (Swagger UI at /docs) declares what a request needs, and
// /asyncapi.json (shown at /docs/socket) lists every socket event of every namespace with its schema.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { socketNamespaces } from '../../server/node.ts';
import { idempotencyKeySchema } from '../../services/idempotency.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

type Json = Record<string, any>;

// Every $ref in `value` that does not resolve inside `doc` (JSON Pointer from the document root).
function danglingRefs(doc: Json, value: unknown = doc, found: string[] = []): string[] {
  if (Array.isArray(value)) value.forEach((v) => danglingRefs(doc, v, found));
  else if (value && typeof value === 'object') {
    for (const [k, v] of Object.entries(value)) {
      if (k === '$ref' && typeof v === 'string') {
        const target = v.startsWith('#/') ? v.slice(2).split('/').map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~')).reduce<any>((at, key) => at?.[key], doc) : undefined;
        if (target === undefined) found.push(v);
      } else danglingRefs(doc, v, found);
    }
  }
  return found;
}

describe('platform: API documents', () => {
  let node: ApiNode;
  let openapi: Json;
  let asyncapi: Json;
  before(async () => {
    node = await startNode({ PAYMENTS_DEFAULT_PROVIDER: 'sandbox' });
    openapi = (await request(node, 'GET', '/openapi.json')).body;
    asyncapi = (await request(node, 'GET', '/asyncapi.json')).body;
  });
  after(stopAllNodes);

  describe('/openapi.json', () => {
    const operations = () => Object.entries(openapi.paths as Json).flatMap(([path, ops]) => Object.entries(ops as Json).map(([method, op]) => ({ path, method, op: op as Json })));
    // route.ts documents a replayable response on every route declared `idempotent: true`.
    const idempotent = () => operations().filter(({ op }) => Object.values(op.responses as Json).some((r: Json) => r.headers?.['Idempotent-Replayed']));

    it('declares a required Idempotency-Key header, with a usable example, on every idempotent route', () => {
      const found = idempotent().map(({ method, path }) => `${method} ${path}`);
      expect(found).to.include.members(['post /payments/orders', 'post /payments/toss/confirm', 'post /admin/payments/{orderId}/refund']);
      for (const { method, path, op } of idempotent()) {
        const header = (op.parameters ?? []).find((p: Json) => p.in === 'header' && p.name === 'Idempotency-Key');
        expect(header, `${method} ${path}`).to.include({ required: true });
        expect(idempotencyKeySchema.safeParse(header.schema.example ?? header.example).success, `${method} ${path} example`).to.equal(true);
        expect(op.responses, `${method} ${path}`).to.have.property('409');
      }
    });

    it('is enough for "Try it out": a request built from the documented header succeeds, one without it is refused', async () => {
      const u = await newUser(node);
      const op = openapi.paths['/payments/orders'].post;
      const header = op.parameters.find((p: Json) => p.in === 'header');
      const body = { productId: 'widgets.starter' };
      const refused = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body });
      expect(refused.status).to.equal(400);
      expect(refused.body.code).to.equal('idempotency_key_required');
      // Swagger UI fills the header from the example; a real client sends its own key.
      const key = `${header.schema.example}-${crypto.randomBytes(4).toString('hex')}`;
      const created = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body, headers: { [header.name]: key } });
      expect(created.status).to.equal(201);
    });

    it('resolves every $ref of its socket events inside the document', () => {
      expect(openapi['x-socket-io'].length).to.be.greaterThan(0);
      expect(danglingRefs(openapi, openapi['x-socket-io'])).to.deep.equal([]);
    });
  });

  describe('/asyncapi.json', () => {
    it('is an AsyncAPI 3 document whose $refs all resolve', () => {
      expect(asyncapi.asyncapi).to.equal('3.0.0');
      expect(asyncapi.info).to.include.keys('title', 'version');
      expect(danglingRefs(asyncapi)).to.deep.equal([]);
    });

    it('has every client event of every namespace as a send operation with its payload and ack, and every server event as a receive', () => {
      const namespaces = socketNamespaces(node.ctx, () => node.services);
      expect(namespaces.map((n) => n.name)).to.include.members(['notifications', 'coach', 'widgets']);
      const operationsOf = (ns: string) => Object.values(asyncapi.operations as Json).filter((op: Json) => op.channel.$ref === `#/channels/${ns}`);
      for (const ns of namespaces) {
        const channel = asyncapi.channels[ns.name];
        expect(channel, ns.name).to.include({ address: `/${ns.name}` });
        const declared = [
          ...ns.clientEvents.map((e) => ({ event: e.event, action: 'send' })),
          ...Object.keys(ns.serverEvents).map((event) => ({ event, action: 'receive' })),
        ];
        for (const { event, action } of declared) {
          const where = `/${ns.name} ${event}`;
          const op = operationsOf(ns.name).find((o: Json) => o.messages[0].$ref === `#/channels/${ns.name}/messages/${event}`);
          expect(op, where).to.not.equal(undefined);
          expect(op.action, where).to.equal(action);
          const payload = channel.messages[event].payload;
          expect(payload, where).to.be.an('object');
          expect(payload.type === 'object' || typeof payload.$ref === 'string', `${where} payload is an object schema`).to.equal(true);
          if (action === 'send') {
            const ackMessage = op.reply.messages[0].$ref.split('/').pop();
            expect(channel.messages[ackMessage].payload.anyOf, `${where} ack`).to.have.length(2);
          }
        }
      }
      // The documented shapes are the schemas the server validates with: a sample of them.
      expect(asyncapi.channels.coach.messages.ask.payload.required).to.include.members(['question', 'game']);
      expect(asyncapi.channels.coach.messages['answer.done'].payload.properties).to.include.keys('answerId', 'length', 'sources');
      expect(asyncapi.channels.notifications.messages.notification.payload.properties.notification.$ref).to.equal('#/components/schemas/Notification');
      expect(asyncapi.channels.widgets.messages['widget.created'].payload.required).to.include.members(['id', 'name', 'letters']);
    });
  });

  describe('/docs', () => {
    it('links the socket events, and /docs/socket shows every namespace and event', async () => {
      const docs = await request(node, 'GET', '/docs');
      expect(docs.body).to.include('href="/docs/socket"').and.to.include('href="/asyncapi.json"');
      expect(openapi.info.description).to.include('/docs/socket');
      const page = await request(node, 'GET', '/docs/socket');
      expect(page.status).to.equal(200);
      expect(page.headers.get('content-type')).to.match(/text\/html/);
      for (const ns of socketNamespaces(node.ctx, () => node.services)) {
        expect(page.body).to.include(`>/${ns.name}</h2>`);
        for (const event of [...ns.clientEvents.map((e) => e.event), ...Object.keys(ns.serverEvents)]) expect(page.body).to.include(`<code>${event}</code>`);
      }
    });
  });
});
