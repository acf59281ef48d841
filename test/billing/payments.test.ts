import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import type { Payment } from '../../entities/billing/Payment.ts';
import { sandboxWebhookSecret } from '../../server/context.ts';
import { signStandardWebhook } from '../../integrations/payments/standardWebhooks.ts';
import { widgetEvents } from '../modules/widgets.ts';
import { startFakeToss, tossStatusWebhook, type FakeToss } from '../fakes/toss.ts';
import { startFakePortOne, type FakePortOne } from '../fakes/portone.ts';
import { newUser, request, startNode, stopAllNodes, type TestUser } from '../helpers.ts';

const PORTONE_WEBHOOK_SECRET = `whsec_${Buffer.from('portone-test-webhook-secret-0123456789').toString('base64')}`;
const OLD_PORTONE_SECRET = `whsec_${Buffer.from('portone-previous-webhook-secret-98765').toString('base64')}`;

describe('billing: orders, providers, webhooks and refunds', () => {
  let node: ApiNode;
  let toss: FakeToss;
  let portone: FakePortOne;
  // The test module's payment handlers record what they saw (and write in the payment's transaction).
  const calls = widgetEvents;

  before(async () => {
    toss = await startFakeToss({ secretKey: 'test_sk_toss' });
    portone = await startFakePortOne({ apiSecret: 'portone-api-secret', storeId: 'store-1', webhookSecret: PORTONE_WEBHOOK_SECRET });
    node = await startNode({
      TOSS_SECRET_KEY: 'test_sk_toss', TOSS_CLIENT_KEY: 'test_ck_toss', TOSS_BASE_URL: toss.url,
      PORTONE_API_SECRET: 'portone-api-secret', PORTONE_STORE_ID: 'store-1', PORTONE_CHANNEL_KEY: 'channel-1', PORTONE_BASE_URL: portone.url,
      PORTONE_WEBHOOK_SECRETS: `${PORTONE_WEBHOOK_SECRET},${OLD_PORTONE_SECRET}`,
      PAYMENTS_DEFAULT_PROVIDER: 'sandbox',
      PAYMENTS_TIMEOUT_MS: '300',
    });
  });
  after(async () => {
    await stopAllNodes();
    await toss.close();
    await portone.close();
  });

  const key = () => `key-${crypto.randomUUID()}`;
  const order = (u: TestUser, body: Record<string, unknown>, idempotencyKey = key()) =>
    request(node, 'POST', '/payments/orders', { token: u.accessToken, body, headers: { 'idempotency-key': idempotencyKey } });
  const paymentRow = async (orderId: string) => (await node.ctx.db.orm.em.fork().execute<Payment[]>('select status, refunded_amount, failure_reason from payments where order_id = ?', [orderId]))[0] as unknown as { status: string; refunded_amount: number; failure_reason: string | null };
  const failures = async (orderId: string) => (await node.ctx.db.orm.em.fork().execute<{ reason: string }[]>('select reason from payment_failures where order_id = ? order by id', [orderId])).map((r) => r.reason);
  const handled = (orderId: string, event: string) => calls.filter((c) => c.orderId === orderId && c.event === event);

  describe('orders and idempotency keys', () => {
    it('prices an order from the product table and replays a retried request', async () => {
      const u = await newUser(node);
      const products = await request(node, 'GET', '/payments/products?module=widgets');
      expect(products.body.products.map((p: { id: string }) => p.id)).to.include('widgets.pack');
      const k = key();
      const first = await order(u, { productId: 'widgets.pack' }, k);
      expect(first.status).to.equal(201);
      expect(first.body).to.include({ amount: 4500, currency: 'KRW', status: 'pending', provider: 'sandbox', offline: true });
      expect(first.body.checkout.checkoutUrl).to.match(/\/sandbox\/checkout\/ord_/);
      const retry = await order(u, { productId: 'widgets.pack' }, k);
      expect(retry.status).to.equal(201);
      expect(retry.body.orderId).to.equal(first.body.orderId);
      expect(retry.headers.get('idempotent-replayed')).to.equal('true');
      const other = await order(u, { productId: 'widgets.premium' }, k);
      expect(other.status).to.equal(409);
      expect(other.body.code).to.equal('idempotency_key_reused');
    });

    it('refuses an order without an Idempotency-Key, for an unknown product, or an unconfigured field', async () => {
      const u = await newUser(node);
      const missing = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.pack' } });
      expect(missing.status).to.equal(400);
      expect(missing.body.errors[0]).to.include({ field: 'Idempotency-Key', in: 'header' });
      const unknown = await order(u, { productId: 'widgets.free-money' });
      expect(unknown.status).to.equal(400);
      expect(unknown.body.errors[0].field).to.equal('productId');
      const badProvider = await order(u, { productId: 'widgets.pack', provider: 'paypal' });
      expect(badProvider.status).to.equal(400);
      expect(badProvider.body.errors[0].field).to.equal('provider');
      // The client cannot set a price: an amount in the body is ignored (zod strips it).
      const priced = await order(u, { productId: 'widgets.pack', amount: 1 });
      expect(priced.body.amount).to.equal(4500);
    });

    it('documents the Idempotency-Key header as required on the idempotent routes in /openapi.json', async () => {
      const doc = (await request(node, 'GET', '/openapi.json')).body;
      for (const [path, method] of [['/payments/orders', 'post'], ['/payments/toss/confirm', 'post'], ['/admin/payments/{orderId}/refund', 'post']]) {
        const header = doc.paths[path][method].parameters.find((p: { in: string; name: string }) => p.in === 'header' && p.name.toLowerCase() === 'idempotency-key');
        expect(header, `${method} ${path}`).to.include({ required: true });
        expect(header.schema.pattern).to.be.a('string');
        expect(doc.paths[path][method].responses).to.have.property('409');
      }
      expect(doc.paths['/admin/payments/{orderId}/refund'].post.parameters.map((p: { in: string }) => p.in)).to.include('path');
      expect(doc.paths['/payments/orders/{orderId}'].get.parameters.some((p: { in: string }) => p.in === 'header')).to.equal(false);
    });

    it('binds a key to its route: the same key on another operation is a 409, and a malformed key a 400', async () => {
      const u = await newUser(node);
      const k = key();
      expect((await order(u, { productId: 'widgets.pack' }, k)).status).to.equal(201);
      const confirm = await request(node, 'POST', '/payments/toss/confirm', { token: u.accessToken, body: { paymentKey: 'pk_1', orderId: 'ord_x', amount: 1 }, headers: { 'idempotency-key': k } });
      expect(confirm.status).to.equal(409);
      expect(confirm.body.code).to.equal('idempotency_key_reused');
      const invalid = await order(u, { productId: 'widgets.pack' }, 'short');
      expect(invalid.status).to.equal(400);
      expect(invalid.body.code).to.equal('invalid_idempotency_key');
    });

    it('keeps two concurrent requests with one key to one order', async () => {
      const u = await newUser(node);
      const k = key();
      const results = await Promise.all([order(u, { productId: 'widgets.starter' }, k), order(u, { productId: 'widgets.starter' }, k)]);
      const created = results.filter((r) => r.status === 201);
      expect(created.length).to.be.within(1, 2);
      expect(new Set(created.map((r) => r.body.orderId)).size).to.equal(1);
      for (const r of results.filter((x) => x.status !== 201)) expect(r.body.code).to.equal('idempotency_request_in_progress');
      const count = await node.ctx.db.orm.em.fork().execute('select count(*)::int as n from payments where user_id = ?', [u.id]);
      expect(count[0].n).to.equal(1);
    });
  });

  describe('the offline sandbox checkout', () => {
    it('approves through the page, which fires the signed webhook; the order is paid and handled once', async () => {
      const u = await newUser(node);
      const created = await order(u, { productId: 'widgets.premium' });
      const orderId = created.body.orderId;
      const page = await request(node, 'GET', `/sandbox/checkout/${orderId}`);
      expect(page.status).to.equal(200);
      expect(page.headers.get('content-type')).to.match(/text\/html/);
      expect(page.body).to.include('8,500원').and.to.include('OFFLINE SANDBOX').and.to.include(`/sandbox/checkout/${orderId}/approve`);
      const approved = await request(node, 'POST', `/sandbox/checkout/${orderId}/approve`);
      expect(approved.status).to.equal(200);
      expect(approved.body).to.include('Webhook delivered: HTTP 200');
      expect((await request(node, 'GET', `/payments/orders/${orderId}`, { token: u.accessToken })).body.status).to.equal('paid');
      expect(handled(orderId, 'paid')).to.have.length(1);
      // Clicking again changes nothing and handles nothing twice.
      await request(node, 'POST', `/sandbox/checkout/${orderId}/approve`);
      expect(handled(orderId, 'paid')).to.have.length(1);
    });

    it('declines through the page: the order fails with the reason recorded', async () => {
      const u = await newUser(node);
      const { body } = await order(u, { productId: 'widgets.starter' });
      await request(node, 'POST', `/sandbox/checkout/${body.orderId}/decline`);
      expect(await paymentRow(body.orderId)).to.include({ status: 'failed', failure_reason: 'declined' });
      expect(await failures(body.orderId)).to.deep.equal(['declined']);
    });

    it('answers a redelivered webhook 200 without acting, and refuses a forged or stale one', async () => {
      const u = await newUser(node);
      const { body } = await order(u, { productId: 'widgets.starter' });
      const sandbox = node.ctx.paymentProviders.get('sandbox') as unknown as { decide: Function; signedWebhook: (e: object) => { body: string; headers: Record<string, string> } };
      await request(node, 'POST', `/sandbox/checkout/${body.orderId}/approve`);
      const [{ payment_key: paymentKey }] = await node.ctx.db.orm.em.fork().execute('select payment_key from sandbox_transactions where order_id = ?', [body.orderId]);
      const delivery = sandbox.signedWebhook({ type: 'payment.approved', data: { orderId: body.orderId, paymentKey } });
      const first = await request(node, 'POST', '/webhooks/sandbox', { raw: delivery.body, headers: delivery.headers });
      const again = await request(node, 'POST', '/webhooks/sandbox', { raw: delivery.body, headers: delivery.headers });
      expect(first.status).to.equal(200);
      expect(again.status).to.equal(200);
      expect(again.body).to.deep.include({ duplicate: true });
      expect(handled(body.orderId, 'paid')).to.have.length(1);

      const forged = { ...delivery.headers, 'webhook-id': `msg_${crypto.randomUUID()}` };
      const refused = await request(node, 'POST', '/webhooks/sandbox', { raw: delivery.body, headers: forged });
      expect(refused.status).to.equal(401);
      expect(refused.body.code).to.equal('invalid_signature');
      const old = Math.floor(Date.now() / 1000) - 600;
      const id = `msg_${crypto.randomUUID()}`;
      const stale = await request(node, 'POST', '/webhooks/sandbox', {
        raw: delivery.body,
        headers: { 'webhook-id': id, 'webhook-timestamp': String(old), 'webhook-signature': signStandardWebhook(sandboxWebhookSecret(node.ctx.config.URL_SIGNING_SECRET), id, old, delivery.body) },
      });
      expect(stale.status).to.equal(401);
      expect(stale.body.detail).to.match(/tolerance/);
    });

    it("maps the sandbox's 404 for a checkout it never saw to 404 payment_not_found, in our words", async () => {
      const u = await newUser(node);
      const { body } = await order(u, { productId: 'widgets.starter' });
      const sandbox = node.ctx.paymentProviders.get('sandbox') as unknown as { signedWebhook: (e: object) => { body: string; headers: Record<string, string> } };
      // Signed, for a real order, but no one opened its checkout: the sandbox has no such payment.
      const delivery = sandbox.signedWebhook({ type: 'payment.approved', data: { orderId: body.orderId, paymentKey: 'sbx_never_opened' } });
      const res = await request(node, 'POST', '/webhooks/sandbox', { raw: delivery.body, headers: delivery.headers });
      expect(res.status).to.equal(404);
      expect(res.headers.get('content-type')).to.include('application/problem+json');
      expect(res.body).to.include({ code: 'payment_not_found', detail: 'The payment provider has no record of this payment' });
      expect(JSON.stringify(res.body)).not.to.match(/sandbox checkout|NOT_FOUND_PAYMENT/i);
      expect((await paymentRow(body.orderId)).status).to.equal('pending');
    });
  });

  describe('Toss Payments (real client against the fake API)', () => {
    async function tossOrder(u: TestUser) {
      const { body } = await order(u, { productId: 'widgets.pack', provider: 'toss' });
      expect(body.checkout).to.include({ clientKey: 'test_ck_toss', amount: 4500 });
      const paymentKey = `tpk_${crypto.randomUUID()}`;
      return { orderId: body.orderId as string, paymentKey };
    }
    const confirm = (u: TestUser, b: object, k = key()) => request(node, 'POST', '/payments/toss/confirm', { token: u.accessToken, body: b, headers: { 'idempotency-key': k } });

    it('confirms with Toss, retrying its 5xx, and marks the order paid', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 4500 });
      toss.failNext(2, 503);
      const res = await confirm(u, { paymentKey, orderId, amount: 4500 });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ status: 'paid', orderId });
      expect(toss.payment(paymentKey)!.status).to.equal('DONE');
      expect(handled(orderId, 'paid')).to.have.length(1);
    });

    it('answers 503 when Toss times out on every attempt, keeping the order pending to confirm again', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 4500 });
      toss.stallNext(3);
      const res = await confirm(u, { paymentKey, orderId, amount: 4500 });
      expect(res.status).to.equal(503);
      expect(res.body.code).to.equal('payment_provider_unavailable');
      expect((await paymentRow(orderId)).status).to.equal('pending');
      expect(await failures(orderId)).to.deep.equal(['provider_unreachable']);
      // The client retries (a new Idempotency-Key: the failed attempt released its key) and it goes through.
      expect((await confirm(u, { paymentKey, orderId, amount: 4500 })).body.status).to.equal('paid');
    });

    it('refuses a tampered amount without asking Toss, recording the attempt', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 100 });
      const before = toss.requests.length;
      const res = await confirm(u, { paymentKey, orderId, amount: 100 });
      expect(res.status).to.equal(400);
      expect(res.body).to.include({ code: 'amount_mismatch' });
      expect(res.body.errors[0].field).to.equal('amount');
      expect(toss.requests.length).to.equal(before);
      expect(await failures(orderId)).to.deep.equal(['amount_mismatch']);
      expect((await paymentRow(orderId)).status).to.equal('pending');
    });

    it('answers a declined card with 402, marks the order failed and records why', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 4500, reject: 'REJECT_CARD_PAYMENT' });
      const res = await confirm(u, { paymentKey, orderId, amount: 4500 });
      expect(res.status).to.equal(402);
      expect(res.body).to.include({ code: 'payment_declined', providerCode: 'REJECT_CARD_PAYMENT' });
      expect(await paymentRow(orderId)).to.include({ status: 'failed', failure_reason: 'REJECT_CARD_PAYMENT' });
      expect(await failures(orderId)).to.deep.equal(['REJECT_CARD_PAYMENT']);
    });

    it("answers a payment Toss does not know with 404 payment_not_found, without Toss's message", async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      // Never authorised at Toss: its API answers 404 NOT_FOUND_PAYMENT with a Korean message.
      const res = await confirm(u, { paymentKey, orderId, amount: 4500 });
      expect(res.status).to.equal(404);
      expect(res.body).to.include({ code: 'payment_not_found', detail: 'The payment provider has no record of this payment' });
      expect(JSON.stringify(res.body)).not.to.match(/존재하지|NOT_FOUND_PAYMENT/);
      expect(await failures(orderId)).to.deep.equal(['NOT_FOUND_PAYMENT']);
    });

    it('applies a confirm racing the webhook for the same payment once', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 4500 });
      const held = toss.holdNextConfirm();
      try {
        const confirming = confirm(u, { paymentKey, orderId, amount: 4500 });
        // Toss has approved; its webhook arrives, and is applied, while the confirm's answer is
        // still on its way (nothing may hold the order while waiting on Toss).
        await held.approved;
        const w = await request(node, 'POST', '/webhooks/toss', { raw: tossStatusWebhook({ paymentKey, orderId, status: 'DONE' }) });
        expect(w.status).to.equal(200);
        expect(w.body.outcome).to.equal('paid');
        held.release();
        const c = await confirming;
        expect(c.status).to.equal(200);
        expect(c.body.status).to.equal('paid');
      } finally {
        held.release();
      }
      expect((await paymentRow(orderId)).status).to.equal('paid');
      expect(handled(orderId, 'paid')).to.have.length(1);
    });

    it('does not believe a webhook body: a forged DONE for an unpaid order changes nothing', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 4500 });
      const res = await request(node, 'POST', '/webhooks/toss', { raw: tossStatusWebhook({ paymentKey, orderId, status: 'DONE' }) });
      expect(res.status).to.equal(200);
      expect((await paymentRow(orderId)).status).to.equal('pending');
    });

    it('refunds partly then fully (admin only), each refund handled once and replayed for a retry', async () => {
      const u = await newUser(node);
      const { orderId, paymentKey } = await tossOrder(u);
      toss.authorize({ paymentKey, orderId, amount: 4500 });
      expect((await confirm(u, { paymentKey, orderId, amount: 4500 })).status).to.equal(200);
      const admin = await newUser(node);
      await node.ctx.db.orm.em.fork().execute(`update users set role = 'admin' where id = ?`, [admin.id]);
      const refund = (b: object, k: string, token = admin.accessToken) => request(node, 'POST', `/admin/payments/${orderId}/refund`, { token, body: b, headers: { 'idempotency-key': k } });
      expect((await refund({ reason: 'test' }, key(), u.accessToken)).status).to.equal(403);
      const k1 = key();
      const partial = await refund({ reason: '일부 환불', amount: 1500 }, k1);
      expect(partial.status).to.equal(200);
      expect(partial.body).to.include({ status: 'paid', refundedAmount: 1500 });
      const replayed = await refund({ reason: '일부 환불', amount: 1500 }, k1);
      expect(replayed.headers.get('idempotent-replayed')).to.equal('true');
      expect(toss.payment(paymentKey)!.balanceAmount).to.equal(3000);
      const tooMuch = await refund({ reason: 'x', amount: 5000 }, key());
      expect(tooMuch.status).to.equal(400);
      expect(tooMuch.body.errors[0].field).to.equal('amount');
      const rest = await refund({ reason: '전액 환불' }, key());
      expect(rest.body).to.include({ status: 'refunded', refundedAmount: 4500 });
      expect(handled(orderId, 'refunded').map((c) => c.amount)).to.deep.equal([1500, 3000]);
    });
  });

  describe('PortOne (real client against the fake API)', () => {
    async function portoneOrder(u: TestUser) {
      const { body } = await order(u, { productId: 'widgets.report', provider: 'portone' });
      expect(body.checkout).to.include({ storeId: 'store-1', paymentId: body.orderId, totalAmount: 9900 });
      return body.orderId as string;
    }

    it('acts on a verified Transaction.Paid webhook after looking the payment up, once', async () => {
      const u = await newUser(node);
      const orderId = await portoneOrder(u);
      portone.pay(orderId, 9900);
      const delivery = portone.signedWebhook('Transaction.Paid', orderId);
      const res = await request(node, 'POST', '/webhooks/portone', { raw: delivery.body, headers: delivery.headers });
      expect(res.status).to.equal(200);
      expect(res.body).to.include({ duplicate: false, outcome: 'paid' });
      const again = await request(node, 'POST', '/webhooks/portone', { raw: delivery.body, headers: delivery.headers });
      expect(again.body).to.include({ duplicate: true });
      expect(handled(orderId, 'paid')).to.have.length(1);
    });

    it('accepts the previous secret during rotation and refuses an unknown one', async () => {
      const u = await newUser(node);
      const orderId = await portoneOrder(u);
      portone.pay(orderId, 9900);
      const rotated = portone.signedWebhook('Transaction.Paid', orderId, { secret: OLD_PORTONE_SECRET });
      expect((await request(node, 'POST', '/webhooks/portone', { raw: rotated.body, headers: rotated.headers })).status).to.equal(200);
      const unknown = portone.signedWebhook('Transaction.Paid', orderId, { secret: `whsec_${Buffer.from('someone else').toString('base64')}` });
      expect((await request(node, 'POST', '/webhooks/portone', { raw: unknown.body, headers: unknown.headers })).status).to.equal(401);
    });

    it('refuses and records a payment whose amount differs from the order', async () => {
      const u = await newUser(node);
      const orderId = await portoneOrder(u);
      portone.pay(orderId, 990);
      const delivery = portone.signedWebhook('Transaction.Paid', orderId);
      const res = await request(node, 'POST', '/webhooks/portone', { raw: delivery.body, headers: delivery.headers });
      expect(res.status).to.equal(422);
      expect(res.body.code).to.equal('amount_mismatch');
      expect(await paymentRow(orderId)).to.include({ status: 'failed', failure_reason: 'amount_mismatch' });
      expect(await failures(orderId)).to.deep.equal(['amount_mismatch']);
      expect(handled(orderId, 'paid')).to.have.length(0);
      // The redelivery is a recorded duplicate: 200, nothing more happens.
      expect((await request(node, 'POST', '/webhooks/portone', { raw: delivery.body, headers: delivery.headers })).status).to.equal(200);
    });
  });

  describe('expiry of pending orders', () => {
    it('cancels stale orders the provider does not know as paid, and marks paid the ones it does', async () => {
      const u = await newUser(node);
      const unpaid = (await order(u, { productId: 'widgets.starter' })).body.orderId;
      const paidLate = (await order(u, { productId: 'widgets.starter' })).body.orderId;
      // The customer approved, but the webhook never reached us.
      await node.ctx.db.orm.em.fork().execute(`insert into sandbox_transactions (payment_key, order_id, amount, status) values (?, ?, 1000, 'approved')`, [`sbx_${crypto.randomUUID()}`, paidLate]);
      await node.ctx.db.orm.em.fork().execute(`update payments set created_at = now() - interval '2 hours' where order_id in (?, ?)`, [unpaid, paidLate]);
      const result = await node.services.payments.expirePending();
      expect(result.expired).to.be.greaterThanOrEqual(1);
      expect(await paymentRow(unpaid)).to.include({ status: 'cancelled', failure_reason: 'expired' });
      expect((await paymentRow(paidLate)).status).to.equal('paid');
      expect(handled(unpaid, 'expired')).to.have.length(1);
      expect(handled(paidLate, 'paid')).to.have.length(1);
    });
  });
});
