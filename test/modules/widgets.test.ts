// The module contract, end to end: a module that exists only in the tests (./widgets.ts) plugs in
// through the module list alone, and MODULES decides what a node serves.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { z } from 'zod';
import { ConfigError, loadConfig } from '../../server/config.ts';
import { createLogger } from '../../server/logger.ts';
import { createMetrics } from '../../server/metrics.ts';
import { createCronRunner } from '../../server/cronRunner.ts';
import { moduleServices } from '../../server/context.ts';
import { checkModules, defineModule, ModuleError } from '../../server/module.ts';
import { startApiNode, type ApiNode } from '../../server/node.ts';
import { cronJobs } from '../../cron/index.ts';
import { modules } from '../../modules/index.ts';
import { connectError, connectSocket, connected, newUser, nextEvent, request, startNode, stopAllNodes, testConfig, testEnv, testModules } from '../helpers.ts';
import { testState } from '../state.ts';
import { countLettersTask, widgetEvents, widgetsModule } from './widgets.ts';

describe('module contract: a test module plugged in through the list', () => {
  let node: ApiNode;
  before(async () => {
    node = await startNode({ PAYMENTS_DEFAULT_PROVIDER: 'sandbox' });
  });
  after(() => stopAllNodes());

  it('serves its routes, documented in /openapi.json, with its config and its worker task', async () => {
    const u = await newUser(node);
    const created = await request(node, 'POST', '/widgets', { token: u.accessToken, body: {} });
    expect(created.status).to.equal(201);
    // WIDGETS_DEFAULT_NAME's default, its letters counted on the worker pool.
    expect(created.body).to.include({ name: 'widget', letters: 6 });
    expect((await request(node, 'GET', `/widgets/${created.body.id}`, { token: u.accessToken })).body).to.include({ id: created.body.id });
    const other = await newUser(node);
    expect((await request(node, 'GET', `/widgets/${created.body.id}`, { token: other.accessToken })).status).to.equal(404);
    const bad = await request(node, 'POST', '/widgets', { token: u.accessToken, body: { name: 'x'.repeat(41) } });
    expect(bad.status).to.equal(400);
    expect(bad.body.errors[0].field).to.equal('name');
    const doc = (await request(node, 'GET', '/openapi.json')).body;
    expect(doc.paths).to.have.property('/widgets');
    expect(doc.paths).to.have.property('/widgets/{id}');
  });

  it('opens its namespace: a client event acks, its server event reaches every socket of the user', async () => {
    const u = await newUser(node);
    const a = connectSocket(node, '/widgets', { token: u.accessToken });
    const b = connectSocket(node, '/widgets', { token: u.accessToken });
    await Promise.all([connected(a), connected(b)]);
    const pushed = nextEvent(b, 'widget.created');
    const ack = await a.emitWithAck('widget.create', { name: '새 위젯' });
    expect(ack.ok).to.equal(true);
    expect(ack.widget).to.include({ name: '새 위젯', letters: 3 });
    expect(await pushed).to.deep.equal(ack.widget);
    const refused = await a.emitWithAck('widget.create', { name: 5 });
    expect(refused).to.deep.include({ ok: false });
    expect(refused.error.errors[0]).to.include({ field: 'name', in: 'payload' });
    const events = (await request(node, 'GET', '/openapi.json')).body['x-socket-io'].filter((e: { namespace: string }) => e.namespace === 'widgets');
    expect(events.map((e: { event: string; direction: string }) => `${e.direction}:${e.event}`)).to.have.members(['client-to-server:widget.create', 'server-to-client:widget.created', 'server-to-client:resync']);
  });

  it('sends its declared notification types, and no others', async () => {
    const u = await newUser(node);
    await request(node, 'POST', '/widgets', { token: u.accessToken, body: { name: 'ping' } });
    const inbox = await request(node, 'GET', '/notifications', { token: u.accessToken });
    expect(inbox.body.items[0]).to.include({ type: 'widgets.ready', category: 'system', title: 'ping is ready' });
    const { platform } = moduleServices(node.services, widgetsModule);
    let refusal: unknown;
    await platform.notify(u.id, { type: 'widgets.undeclared', title: 'x' }).catch((err: unknown) => (refusal = err));
    expect(refusal).to.be.instanceOf(ModuleError);
    expect(String(refusal)).to.include('widgets.undeclared');
  });

  it('runs its cron job in the cron process\'s list, once per slot', async () => {
    const job = cronJobs(node.services).find((j) => j.name === 'widgets-sweep');
    expect(job).to.not.equal(undefined);
    const runner = createCronRunner({ orm: node.ctx.db.orm, databaseUrl: testState.databaseUrl, logger: createLogger({ level: 'silent', pretty: false, nodeId: 'test' }), metrics: createMetrics({ nodeId: 'test' }), nodeId: 'test', timeZone: 'Asia/Seoul' });
    const slot = new Date(Math.floor(Date.now() / 1000) * 1000 + crypto.randomInt(1_000_000) * 1000);
    try {
      expect(await runner.runOnce(job!, slot)).to.equal('succeeded');
      expect(await runner.runOnce(job!, slot)).to.equal('skipped_slot_taken');
      const [row] = await node.ctx.db.orm.em.fork().execute<{ result: { widgets: number } }[]>('select result from cron_runs where job_name = ? and slot = ?', [job!.name, slot]);
      expect(row.result.widgets).to.be.greaterThan(0);
    } finally {
      await runner.stop();
    }
  });

  it('completes its paid orders: onPaid runs once, in the payment\'s transaction', async () => {
    const u = await newUser(node);
    const products = await request(node, 'GET', '/payments/products?module=widgets');
    expect(products.body.products.map((p: { id: string }) => p.id)).to.include('widgets.pack');
    const order = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.pack' }, headers: { 'idempotency-key': crypto.randomUUID() } });
    expect(order.status).to.equal(201);
    const orderId = order.body.orderId as string;
    const approved = await request(node, 'POST', `/sandbox/checkout/${orderId}/approve`);
    expect(approved.status).to.equal(200);
    expect((await request(node, 'GET', `/payments/orders/${orderId}`, { token: u.accessToken })).body.status).to.equal('paid');
    const grants = await node.ctx.db.orm.em.fork().execute<{ widgets: number }[]>('select widgets from test_widget_grants where order_id = ?', [orderId]);
    expect(grants).to.deep.equal([{ widgets: 5 }]);
    expect(widgetEvents.filter((e) => e.orderId === orderId && e.event === 'paid')).to.have.length(1);
  });

  it('runs only the worker tasks a module declared', async () => {
    const undeclared = { ...countLettersTask, name: 'somethingElse' };
    let refusal: unknown;
    await node.ctx.pool.run(undeclared, { text: 'a' }).catch((err: unknown) => (refusal = err));
    expect(String(refusal)).to.include('not declared');
  });

  it('validates its variables with the platform\'s, in one refusal, and only where it is enabled', () => {
    const refuse = (env: Record<string, string>) => {
      try {
        loadConfig(testEnv(env), testModules);
      } catch (err) {
        expect(err).to.be.instanceOf(ConfigError);
        return (err as Error).message;
      }
      return expect.fail('accepted');
    };
    const message = refuse({ WIDGETS_DEFAULT_NAME: 'x'.repeat(41), PORT: 'nope' });
    expect(message).to.include('WIDGETS_DEFAULT_NAME').and.to.include('PORT');
    expect(() => loadConfig(testEnv({ WIDGETS_DEFAULT_NAME: 'x'.repeat(41), MODULES: 'coach' }), testModules)).to.not.throw();
    expect(refuse({ MODULES: 'coach,nope' })).to.include('MODULES: no module named nope');
  });
});

describe('module contract: MODULES picks what a node serves', () => {
  after(() => stopAllNodes());

  it('MODULES=coach serves the coach alone; the test module\'s routes, namespace, jobs, bulkhead and sales are absent', async () => {
    const node = await startNode({ MODULES: 'coach', PAYMENTS_DEFAULT_PROVIDER: 'sandbox' });
    const u = await newUser(node);
    expect((await request(node, 'GET', '/api/coach/games', { token: u.accessToken })).status).to.equal(200);
    expect((await request(node, 'POST', '/widgets', { token: u.accessToken, body: {} })).status).to.equal(404);
    const err = await connectError(connectSocket(node, '/widgets', { token: u.accessToken }));
    expect(err.message).to.match(/namespace/i);
    await connected(connectSocket(node, '/coach', { token: u.accessToken }));
    const doc = (await request(node, 'GET', '/openapi.json')).body;
    expect(doc.paths).to.not.have.property('/widgets');
    expect(doc['x-socket-io'].some((e: { namespace: string }) => e.namespace === 'widgets')).to.equal(false);
    expect(cronJobs(node.services).map((j) => j.name)).to.include('retry-coach-checkouts').and.not.to.include('widgets-sweep');
    expect(node.ctx.llm.stats().bulkheads).to.not.have.property('widgets');
    expect(node.services.modules.map((m) => m.def.name)).to.deep.equal(['coach']);
    const products = await request(node, 'GET', '/payments/products');
    expect(products.body.products.some((p: { module: string }) => p.module === 'widgets')).to.equal(false);
    const order = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.pack' }, headers: { 'idempotency-key': crypto.randomUUID() } });
    expect(order.status).to.equal(503);
    expect(order.body.code).to.equal('module_not_served');
  });

  it('a paid order of a module served elsewhere is answered 503 (the provider redelivers) and stays pending', async () => {
    const [everything, coachOnly] = await Promise.all([startNode({ PAYMENTS_DEFAULT_PROVIDER: 'sandbox' }), startNode({ MODULES: 'coach', PAYMENTS_DEFAULT_PROVIDER: 'sandbox' })]);
    const u = await newUser(everything);
    const order = await request(everything, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.starter' }, headers: { 'idempotency-key': crypto.randomUUID() } });
    const orderId = order.body.orderId as string;
    // The sandbox posts its webhook to the node whose page was used: here the coach-only one.
    const approved = await request(coachOnly, 'POST', `/sandbox/checkout/${orderId}/approve`);
    expect(approved.body).to.include('HTTP 503');
    expect((await request(everything, 'GET', `/payments/orders/${orderId}`, { token: u.accessToken })).body.status).to.equal('pending');
    expect(widgetEvents.filter((e) => e.orderId === orderId)).to.deep.equal([]);
  });

  it('MODULES=widgets serves the test module without the coach', async () => {
    const node = await startNode({ MODULES: 'widgets' });
    const u = await newUser(node);
    expect((await request(node, 'POST', '/widgets', { token: u.accessToken, body: {} })).status).to.equal(201);
    expect((await request(node, 'GET', '/api/coach/games', { token: u.accessToken })).status).to.equal(404);
    expect(() => moduleServices(node.services, widgetsModule)).to.not.throw();
  });
});

describe('module contract: what stops the start', () => {
  const product = { id: 'unsold.thing', name: '팔 수 없는 것', amount: 1000, grants: {}, sortOrder: 0 };
  const unhandled = defineModule({ name: 'unsold', summary: 'sells without a handler', config: z.object({}), products: [product], createServices: () => ({}) });

  it('a module that sells a product without payments.onPaid, naming the product', () => {
    expect(() => checkModules([...modules, unhandled])).to.throw(ModuleError, /unsold\.thing.*no payments\.onPaid/);
  });

  it('two modules of one name, and a notification type outside the module\'s name', () => {
    const stray = defineModule({ name: 'stray', summary: '', notificationTypes: { 'other.thing': { category: 'system', summary: '' } }, createServices: () => ({}) });
    expect(() => checkModules([widgetsModule, widgetsModule])).to.throw(ModuleError, /listed twice/);
    expect(() => checkModules([stray])).to.throw(ModuleError, /other\.thing/);
  });

  it('a node whose list lacks the module of a product on sale in its database, naming the product', async () => {
    // The run's database sells the test module's products; the shipped list does not have that module.
    let refusal: unknown;
    await startApiNode(testConfig({ MODULES: 'coach' }), { modules }).then((n) => n.shutdown(), (err: unknown) => (refusal = err));
    expect(refusal).to.be.instanceOf(ModuleError);
    expect(String(refusal)).to.include('product widgets.pack (module widgets) is on sale');
  });
});
