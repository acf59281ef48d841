// Point packs against the Toss fake (the real Toss client): checkout → confirm or webhook → points
// and bonus credited once, refunds reversing into debt, admin CRUD, history pages, bad input.
import crypto from 'node:crypto';
import { expect } from 'chai';
import { migrate } from '../../server/db.ts';
import type { ApiNode } from '../../server/node.ts';
import { reversedAfter } from '../../services/chat/pointPacks.ts';
import { startFakeToss, tossStatusWebhook, type FakeToss } from '../fakes/toss.ts';
import { newUser, request, startNode, stopAllNodes, testModules, type TestUser } from '../helpers.ts';

describe('chat: point packs', () => {
  let node: ApiNode;
  let toss: FakeToss;
  let admin: TestUser;

  before(async () => {
    toss = await startFakeToss({ secretKey: 'test_sk_chat' });
    node = await startNode({ TOSS_SECRET_KEY: 'test_sk_chat', TOSS_CLIENT_KEY: 'test_ck_chat', TOSS_BASE_URL: toss.url, PAYMENTS_TIMEOUT_MS: '2000' });
    admin = await newUser(node);
    await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
  });
  after(async () => {
    await stopAllNodes();
    await toss.close();
  });

  const key = () => `key-${crypto.randomUUID()}`;
  const db = () => node.ctx.db.orm.em.fork();
  const wallet = async (u: TestUser) => (await request(node, 'GET', '/point/balance', { token: u.accessToken })).body as { balance: number; debt: number };
  const ledger = async (userId: string) =>
    db().execute<{ type: string; amount: string; reference_id: string | null }[]>('select type, amount, reference_id from point_transactions where user_id = ? order by id', [userId]);
  const ledgerSum = async (userId: string) => (await ledger(userId)).reduce((n, e) => n + Number(e.amount), 0);
  const checkout = (u: TestUser, productId: string, k = key()) =>
    request(node, 'POST', '/payment/checkout', { token: u.accessToken, body: { productId }, headers: { 'idempotency-key': k } });
  const confirm = (u: TestUser, b: object) => request(node, 'POST', '/payments/toss/confirm', { token: u.accessToken, body: b, headers: { 'idempotency-key': key() } });
  const refund = (orderId: string, b: object, token = admin.accessToken) =>
    request(node, 'POST', `/admin/payments/${orderId}/refund`, { token, body: b, headers: { 'idempotency-key': key() } });
  const adminCall = (method: string, path: string, body?: unknown, token = admin.accessToken) =>
    request(node, method, path, { token, body, headers: method === 'POST' ? { 'idempotency-key': key() } : {} });

  // Checkout, then Toss approves in the customer's browser and the client confirms.
  async function buy(u: TestUser, productId: string, amount: number) {
    const res = await checkout(u, productId);
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    const paymentKey = `tpk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId: res.body.orderId, amount });
    const paid = await confirm(u, { paymentKey, orderId: res.body.orderId, amount });
    expect(paid.status, JSON.stringify(paid.body)).to.equal(200);
    expect(paid.body.status).to.equal('paid');
    return { orderId: res.body.orderId as string, paymentKey };
  }

  it("lists the seed's four packs in order, each with its points and bonus", async () => {
    const res = await request(node, 'GET', '/payment/products');
    expect(res.status).to.equal(200);
    const seeded = res.body.products.filter((p: { id: string }) => ['chat.starter', 'chat.basic', 'chat.premium', 'chat.ultimate'].includes(p.id));
    expect(seeded.map((p: Record<string, unknown>) => [p.id, p.name, p.price, p.points, p.bonus, p.totalPoints])).to.deep.equal([
      ['chat.starter', '스타터 팩', 1000, 100, 0, 100],
      ['chat.basic', '베이직 팩', 4500, 500, 50, 550],
      ['chat.premium', '프리미엄 팩', 8500, 1000, 150, 1150],
      ['chat.ultimate', '얼티밋 팩', 24000, 3000, 600, 3600],
    ]);
    // Another module's products are not chat packs.
    expect(res.body.products.every((p: { id: string }) => p.id.startsWith('chat.'))).to.equal(true);
  });

  it('checkout makes a Toss order; confirm credits the points and the bonus once, as two ledger entries', async () => {
    const u = await newUser(node);
    const res = await checkout(u, 'chat.basic');
    expect(res.status).to.equal(201);
    expect(res.body).to.include({ provider: 'toss', amount: 4500, status: 'pending', module: 'chat', productId: 'chat.basic' });
    expect(res.body.checkout).to.include({ clientKey: 'test_ck_chat', amount: 4500, orderName: '베이직 팩' });
    expect(res.body.pack).to.include({ points: 500, bonus: 50, totalPoints: 550 });
    const paymentKey = `tpk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId: res.body.orderId, amount: 4500 });
    expect((await confirm(u, { paymentKey, orderId: res.body.orderId, amount: 4500 })).body.status).to.equal('paid');
    // A confirm retried by the client (a new key) and the webhook that follows change nothing.
    expect((await confirm(u, { paymentKey, orderId: res.body.orderId, amount: 4500 })).body.status).to.equal('paid');
    const hook = await request(node, 'POST', '/webhooks/toss', { raw: tossStatusWebhook({ paymentKey, orderId: res.body.orderId, status: 'DONE' }) });
    expect(hook.body.outcome).to.equal('unchanged');
    expect(await wallet(u)).to.include({ balance: 550, debt: 0 });
    expect((await ledger(u.id)).map((e) => [e.type, Number(e.amount), e.reference_id])).to.deep.equal([
      ['credit', 500, res.body.orderId],
      ['bonus', 50, res.body.orderId],
    ]);
  });

  it('credits once when the Toss webhook arrives twice at /webhooks/toss and again at /payment/webhook', async () => {
    const u = await newUser(node);
    const res = await checkout(u, 'chat.premium');
    const orderId = res.body.orderId as string;
    const paymentKey = `tpk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId, amount: 8500 });
    // Approved at Toss, but the browser never came back to confirm: the webhook is all we hear.
    Object.assign(toss.payment(paymentKey)!, { status: 'DONE', approvedAt: new Date().toISOString() });
    const body = tossStatusWebhook({ paymentKey, orderId, status: 'DONE' });
    const first = await request(node, 'POST', '/webhooks/toss', { raw: body });
    expect(first.body).to.include({ received: true, duplicate: false, outcome: 'paid' });
    const again = await request(node, 'POST', '/webhooks/toss', { raw: body });
    expect(again.body).to.include({ duplicate: true });
    // The seed's path records the same delivery under the same event: a duplicate.
    const seedPath = await request(node, 'POST', '/payment/webhook', { raw: body });
    expect(seedPath.status).to.equal(200);
    expect(seedPath.body).to.include({ duplicate: true });
    // A new delivery (another body) at the seed's path is applied, and finds the payment paid.
    const later = await request(node, 'POST', '/payment/webhook', { raw: JSON.stringify({ ...JSON.parse(body), createdAt: '2026-01-01T00:00:01.000' }) });
    expect(later.body).to.include({ duplicate: false, outcome: 'unchanged' });
    expect(await wallet(u)).to.include({ balance: 1150 });
    expect(await ledgerSum(u.id)).to.equal(1150);
  });

  it('applies an order first seen at /payment/webhook, and refuses a forged one there like at /webhooks/toss', async () => {
    const u = await newUser(node);
    const { body } = await checkout(u, 'chat.starter');
    const paymentKey = `tpk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId: body.orderId, amount: 1000 });
    // A DONE that Toss does not confirm (the payment is still in progress there) credits nothing.
    const forged = await request(node, 'POST', '/payment/webhook', { raw: tossStatusWebhook({ paymentKey, orderId: body.orderId, status: 'DONE' }) });
    expect(forged.status).to.equal(200);
    expect((await wallet(u)).balance).to.equal(0);
    Object.assign(toss.payment(paymentKey)!, { status: 'DONE' });
    const real = await request(node, 'POST', '/payment/webhook', { raw: JSON.stringify({ eventType: 'PAYMENT_STATUS_CHANGED', createdAt: '2026-01-01T00:00:02.000', data: { paymentKey, orderId: body.orderId, status: 'DONE' } }) });
    expect(real.body.outcome).to.equal('paid');
    expect((await wallet(u)).balance).to.equal(100);
    const bad = await request(node, 'POST', '/payment/webhook', { raw: '{"eventType": ' });
    expect(bad.status).to.equal(400);
    expect(bad.headers.get('content-type')).to.match(/application\/problem\+json/);
  });

  it('a partial refund takes back its share of points and bonus, the rest of the refund the remainder', async () => {
    const u = await newUser(node);
    const { orderId } = await buy(u, 'chat.premium', 8500);
    expect((await refund(orderId, { reason: 'test' }, u.accessToken)).status).to.equal(403);
    const partial = await refund(orderId, { reason: '일부 환불', amount: 1000 });
    expect(partial.body).to.include({ status: 'paid', refundedAmount: 1000 });
    // floor(1150 × 1000 / 8500) = 135
    expect(await wallet(u)).to.include({ balance: 1150 - 135, debt: 0 });
    const rest = await refund(orderId, { reason: '전액 환불' });
    expect(rest.body).to.include({ status: 'refunded', refundedAmount: 8500 });
    expect(await wallet(u)).to.include({ balance: 0, debt: 0 });
    const reversals = (await ledger(u.id)).filter((e) => e.type === 'reversal').map((e) => Number(e.amount));
    expect(reversals).to.deep.equal([-135, -1015]);
    expect(await ledgerSum(u.id)).to.equal(0);
  });

  it('a refund after the points were spent takes the balance to zero and records the rest as debt, which the next pack pays first', async () => {
    const u = await newUser(node);
    const { orderId } = await buy(u, 'chat.basic', 4500);
    await node.services.points.spend(u.id, { amount: 500, idempotencyKey: key(), description: 'replies' });
    expect((await refund(orderId, { reason: '환불' })).body.status).to.equal('refunded');
    expect(await wallet(u)).to.include({ balance: 0, debt: 500 });
    // The refund's webhook arriving afterwards takes nothing more.
    await request(node, 'POST', '/payment/webhook', { raw: JSON.stringify({ eventType: 'PAYMENT_STATUS_CHANGED', createdAt: '2026-01-01T00:00:03.000', data: { orderId, status: 'CANCELED' } }) });
    expect(await wallet(u)).to.include({ balance: 0, debt: 500 });
    await buy(u, 'chat.starter', 1000);
    expect(await wallet(u)).to.include({ balance: 0, debt: 400 });
    expect(await ledgerSum(u.id)).to.equal(0);
  });

  it('freezes the grants at checkout: an admin edit before payment does not change what the order credits', async () => {
    const id = `chat.frozen-${crypto.randomBytes(3).toString('hex')}`;
    expect((await adminCall('POST', '/payment/products', { id, name: '동결 팩', price: 2000, points: 200, bonus: 20 })).status).to.equal(201);
    const u = await newUser(node);
    const res = await checkout(u, id);
    expect(res.body.pack).to.include({ points: 200, bonus: 20 });
    const edited = await adminCall('PUT', `/payment/products/${id}`, { name: '동결 팩', price: 2000, points: 1, bonus: 0 });
    expect(edited.status).to.equal(200);
    const paymentKey = `tpk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId: res.body.orderId, amount: 2000 });
    await confirm(u, { paymentKey, orderId: res.body.orderId, amount: 2000 });
    expect((await wallet(u)).balance).to.equal(220);
    // An order made now gets the edited grants.
    await buy(u, id, 2000);
    expect((await wallet(u)).balance).to.equal(221);
  });

  it("does not believe grants a client wrote into an order's metadata through the generic orders route", async () => {
    const u = await newUser(node);
    const order = await request(node, 'POST', '/payments/orders', {
      token: u.accessToken, headers: { 'idempotency-key': key() },
      body: { productId: 'chat.starter', provider: 'toss', metadata: { chatPoints: 999999, chatBonus: 999999, chatGrantsAt: Date.now(), chatGrantsSig: 'forged' } },
    });
    expect(order.status).to.equal(201);
    const paymentKey = `tpk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId: order.body.orderId, amount: 1000 });
    await confirm(u, { paymentKey, orderId: order.body.orderId, amount: 1000 });
    expect((await wallet(u)).balance).to.equal(100);
  });

  it('admin CRUD: create, list, edit, take off sale; 403 for others; 404 and 409 where due', async () => {
    const u = await newUser(node);
    const id = `chat.event-${crypto.randomBytes(3).toString('hex')}`;
    const pack = { id, name: '이벤트 팩', description: '한정 판매', price: 3000, points: 300, bonus: 30, sortOrder: 10 };
    expect((await adminCall('POST', '/payment/products', pack, u.accessToken)).status).to.equal(403);
    expect((await adminCall('PUT', `/payment/products/${id}`, pack, u.accessToken)).status).to.equal(403);
    expect((await adminCall('DELETE', `/payment/products/${id}`, undefined, u.accessToken)).status).to.equal(403);
    expect((await request(node, 'POST', '/payment/products', { body: pack, headers: { 'idempotency-key': key() } })).status).to.equal(401);

    const created = await adminCall('POST', '/payment/products', pack);
    expect(created.status).to.equal(201);
    expect(created.body).to.deep.equal({ id, name: '이벤트 팩', description: '한정 판매', price: 3000, points: 300, bonus: 30, totalPoints: 330, sortOrder: 10, active: true });
    const dup = await adminCall('POST', '/payment/products', pack);
    expect(dup.status).to.equal(409);
    expect(dup.body).to.include({ code: 'product_exists' });
    expect(dup.body.errors[0].field).to.equal('id');
    const listed = (await request(node, 'GET', '/payment/products')).body.products as { id: string }[];
    expect(listed.map((p) => p.id)).to.include(id);
    // The platform sells it too: it is a chat product like the declared ones.
    expect((await request(node, 'GET', '/payments/products?module=chat')).body.products.map((p: { id: string }) => p.id)).to.include(id);

    const edited = await adminCall('PUT', `/payment/products/${id}`, { name: '이벤트 팩 II', price: 3500, points: 400, bonus: 0 });
    expect(edited.body).to.include({ name: '이벤트 팩 II', price: 3500, points: 400, bonus: 0, totalPoints: 400, description: null, active: true });
    await buy(u, id, 3500);
    expect((await wallet(u)).balance).to.equal(400);

    expect((await adminCall('DELETE', `/payment/products/${id}`)).status).to.equal(204);
    expect(((await request(node, 'GET', '/payment/products')).body.products as { id: string }[]).map((p) => p.id)).not.to.include(id);
    const offSale = await checkout(u, id);
    expect(offSale.status).to.equal(400);
    expect(offSale.body).to.include({ code: 'unknown_product' });
    // Its past order is still in the history.
    expect((await request(node, 'GET', '/payment/history', { token: u.accessToken })).body.items[0]).to.include({ productId: id, status: 'paid' });

    expect((await adminCall('PUT', '/payment/products/chat.no-such-pack', { name: 'x', price: 1000, points: 1 })).status).to.equal(404);
    expect((await adminCall('DELETE', '/payment/products/chat.no-such-pack')).status).to.equal(404);
    // Another module's product is not a chat pack to edit.
    expect((await adminCall('PUT', '/payment/products/widgets.pack', { name: 'x', price: 1000, points: 1 })).status).to.equal(400);
  });

  it('admin edits survive the next migration: the seeder rewrites only the packs code still manages', async () => {
    const id = `chat.kept-${crypto.randomBytes(3).toString('hex')}`;
    expect((await adminCall('POST', '/payment/products', { id, name: '운영자 팩', price: 2000, points: 200, bonus: 0 })).status).to.equal(201);
    const before = (await request(node, 'GET', '/payment/products')).body.products.find((p: { id: string }) => p.id === 'chat.basic');
    expect((await adminCall('PUT', '/payment/products/chat.basic', { name: '베이직 팩 (할인)', price: 3900, points: 500, bonus: 100 })).status).to.equal(200);
    // What a restart with MIGRATE_ON_START does.
    await migrate(node.ctx.db.orm, node.ctx.logger, testModules);
    const after = (await request(node, 'GET', '/payment/products')).body.products as { id: string; price: number; bonus: number }[];
    expect(after.find((p) => p.id === 'chat.basic')).to.include({ price: 3900, bonus: 100 });
    expect(after.map((p) => p.id)).to.include(id);
    // Put back as the seed has it, for the other tests.
    await adminCall('PUT', '/payment/products/chat.basic', { name: before.name, price: before.price, points: before.points, bonus: before.bonus, sortOrder: before.sortOrder });
  });

  it('tells the buyer once the pack is credited (chat.payment_completed), after the payment committed', async () => {
    const u = await newUser(node);
    await buy(u, 'chat.basic', 4500);
    // Sent in the background once the payment committed.
    let paid: { type: string; data: { points: number } }[] = [];
    for (let i = 0; i < 40 && paid.length === 0; i++) {
      const inbox = (await request(node, 'GET', '/notifications', { token: u.accessToken })).body.items as { type: string; data: { points: number } }[];
      paid = inbox.filter((n) => n.type === 'chat.payment_completed');
      if (paid.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(paid).to.have.length(1);
    expect(paid[0].data.points).to.equal(550);
  });

  it('history: my chat orders only, newest first, by cursor, with the points each credited and reversed', async () => {
    const u = await newUser(node);
    const other = await newUser(node);
    const a = await buy(u, 'chat.starter', 1000);
    const b = await buy(u, 'chat.basic', 4500);
    const pending = await checkout(u, 'chat.premium');
    await buy(other, 'chat.starter', 1000);
    // Another module's order is not in the chat's history.
    await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.pack', provider: 'toss' }, headers: { 'idempotency-key': key() } });
    await refund(b.orderId, { reason: '일부', amount: 900 });

    const page1 = await request(node, 'GET', '/payment/history?limit=2', { token: u.accessToken });
    expect(page1.status).to.equal(200);
    expect(page1.body.items.map((i: { orderId: string }) => i.orderId)).to.deep.equal([pending.body.orderId, b.orderId]);
    expect(page1.body.items[0]).to.include({ status: 'pending' });
    expect(page1.body.items[0].points).to.deep.equal({ credited: 0, bonus: 0, reversed: 0 });
    expect(page1.body.items[1]).to.include({ status: 'paid', refundedAmount: 900, amount: 4500 });
    expect(page1.body.items[1].points).to.deep.equal({ credited: 500, bonus: 50, reversed: reversedAfter(550, 900, 4500) });
    expect(page1.body.nextCursor).to.be.a('string');
    const page2 = await request(node, 'GET', `/payment/history?limit=2&cursor=${page1.body.nextCursor}`, { token: u.accessToken });
    expect(page2.body.items.map((i: { orderId: string }) => i.orderId)).to.deep.equal([a.orderId]);
    expect(page2.body.items[0].points).to.deep.equal({ credited: 100, bonus: 0, reversed: 0 });
    expect(page2.body.nextCursor).to.equal(null);
    expect((await wallet(u)).balance).to.equal(100 + 550 - 110);

    const badCursor = await request(node, 'GET', '/payment/history?cursor=bm9wZQ', { token: u.accessToken });
    expect(badCursor.status).to.equal(400);
    expect(badCursor.body).to.include({ code: 'invalid_cursor' });
    expect(badCursor.body.errors[0].field).to.equal('cursor');
    expect((await request(node, 'GET', '/payment/history')).status).to.equal(401);
  });

  it('refuses bad input with 400 naming the field', async () => {
    const u = await newUser(node);
    const cases: [string, string, unknown, string][] = [
      ['POST', '/payment/checkout', {}, 'productId'],
      ['POST', '/payment/checkout', { productId: 'widgets.pack' }, 'productId'],
      ['POST', '/payment/checkout', { productId: 'chat.no-such-pack' }, 'productId'],
      ['POST', '/payment/checkout', { productId: 'chat.\u0000' }, 'productId'],
    ];
    for (const [method, path, body, field] of cases) {
      const res = await request(node, method, path, { token: u.accessToken, body, headers: { 'idempotency-key': key() } });
      expect(res.status, `${path} ${JSON.stringify(body)}`).to.equal(400);
      expect(res.body.errors[0].field, JSON.stringify(res.body)).to.equal(field);
    }
    const missingKey = await request(node, 'POST', '/payment/checkout', { token: u.accessToken, body: { productId: 'chat.basic' } });
    expect(missingKey.status).to.equal(400);
    expect(missingKey.body.errors[0].field).to.equal('Idempotency-Key');
    const adminCases: [unknown, string][] = [
      [{ id: 'coach.x', name: 'x', price: 1000, points: 1 }, 'id'],
      [{ id: 'chat.x', name: 'x', price: -1, points: 1 }, 'price'],
      [{ id: 'chat.x', name: 'x', price: 1000, points: 0 }, 'points'],
      [{ id: 'chat.x', name: 'x', price: 1000, points: 1, bonus: 1.5 }, 'bonus'],
      [{ id: 'chat.x', name: '', price: 1000, points: 1 }, 'name'],
    ];
    for (const [body, field] of adminCases) {
      const res = await adminCall('POST', '/payment/products', body);
      expect(res.status, JSON.stringify(body)).to.equal(400);
      expect(res.body.errors[0].field).to.equal(field);
    }
    const badLimit = await request(node, 'GET', '/payment/history?limit=0', { token: u.accessToken });
    expect(badLimit.status).to.equal(400);
    expect(badLimit.body.errors[0].field).to.equal('limit');
  });

  it('a checkout retried with its Idempotency-Key gets the same order', async () => {
    const u = await newUser(node);
    const k = key();
    const first = await checkout(u, 'chat.starter', k);
    const retry = await checkout(u, 'chat.starter', k);
    expect(retry.body.orderId).to.equal(first.body.orderId);
    expect(retry.headers.get('idempotent-replayed')).to.equal('true');
    expect((await checkout(u, 'chat.basic', k)).status).to.equal(409);
  });

  describe('without Toss configured', () => {
    let sandboxNode: ApiNode;
    before(async () => {
      sandboxNode = await startNode({});
    });

    it('checks out on the offline sandbox and credits when it is approved; /payment/webhook is not served', async () => {
      const u = await newUser(sandboxNode);
      const res = await request(sandboxNode, 'POST', '/payment/checkout', { token: u.accessToken, body: { productId: 'chat.basic' }, headers: { 'idempotency-key': key() } });
      expect(res.status).to.equal(201);
      expect(res.body).to.include({ provider: 'sandbox', offline: true });
      await request(sandboxNode, 'POST', `/sandbox/checkout/${res.body.orderId}/approve`);
      expect((await request(sandboxNode, 'GET', '/point/balance', { token: u.accessToken })).body).to.include({ balance: 550 });
      expect((await request(sandboxNode, 'POST', '/payment/webhook', { raw: '{}' })).status).to.equal(404);
    });
  });
});
