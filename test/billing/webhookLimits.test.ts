// What /webhooks/* accepts from senders it cannot trust: Toss posts some event types unsigned, so
// an unsigned event is stored only when it names one of our orders; bodies are capped; senders
// are rate-limited per IP in a bucket of their own.
import crypto from 'node:crypto';
import { expect } from 'chai';
import type { ApiNode } from '../../server/node.ts';
import { MAX_WEBHOOK_BYTES } from '../../routes/webhooks/payments.ts';
import { UNVERIFIED_UNKNOWN } from '../../services/billing/webhooks.ts';
import { startFakeToss, tossStatusWebhook, type FakeToss } from '../fakes/toss.ts';
import { newUser, request, startNode, stopAllNodes } from '../helpers.ts';

const TOSS_WEBHOOK_SECRET = 'toss-webhook-security-key-for-tests';

describe('billing: webhook limits (unsigned events, size cap, per-IP rate limit)', () => {
  let node: ApiNode;
  let toss: FakeToss;

  before(async () => {
    toss = await startFakeToss({ secretKey: 'test_sk_toss' });
    node = await startNode({
      TOSS_SECRET_KEY: 'test_sk_toss', TOSS_CLIENT_KEY: 'test_ck_toss', TOSS_BASE_URL: toss.url,
      TOSS_WEBHOOK_SECRETS: TOSS_WEBHOOK_SECRET,
      PAYMENTS_DEFAULT_PROVIDER: 'sandbox',
      PAYMENTS_TIMEOUT_MS: '300',
    });
  });
  after(async () => {
    await stopAllNodes();
    await toss.close();
  });

  // Toss has no event id: the service keys an event on the hash of its body.
  const eventIdOf = (body: string) => crypto.createHash('sha256').update(body).digest('hex');
  const stored = async (body: string) =>
    node.ctx.db.orm.em.fork().execute<{ event_type: string; outcome: string }[]>('select event_type, outcome from webhook_events where provider = ? and event_id = ?', ['toss', eventIdOf(body)]);
  const tossEvents = async () => Number((await node.ctx.db.orm.em.fork().execute<{ n: string }[]>(`select count(*) as n from webhook_events where provider = 'toss'`))[0].n);
  const post = (body: string, headers: Record<string, string> = {}) => request(node, 'POST', '/webhooks/toss', { raw: body, headers });
  // Toss's signature: "v1:" + base64 HMAC-SHA256 of "<body>:<transmission time>" under the security key.
  const signed = (body: string, secret = TOSS_WEBHOOK_SECRET) => {
    const time = String(Math.floor(Date.now() / 1000));
    const mac = crypto.createHmac('sha256', secret).update(body).update(`:${time}`).digest('base64');
    return { 'tosspayments-webhook-signature': `v1:${mac}`, 'tosspayments-webhook-transmission-time': time };
  };
  const unique = () => `ord_unknown_${crypto.randomUUID().replaceAll('-', '')}`;
  async function tossOrder(): Promise<{ orderId: string; paymentKey: string }> {
    const u = await newUser(node);
    const res = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.pack', provider: 'toss' }, headers: { 'idempotency-key': crypto.randomUUID() } });
    expect(res.status).to.equal(201);
    const paymentKey = `pk_${crypto.randomUUID()}`;
    toss.authorize({ paymentKey, orderId: res.body.orderId, amount: res.body.amount });
    return { orderId: res.body.orderId, paymentKey };
  }

  describe('what is recorded', () => {
    it('acknowledges an unsigned event that names no order of ours with 200 and stores nothing', async () => {
      const before = await tossEvents();
      const payment = tossStatusWebhook({ paymentKey: `pk_${crypto.randomUUID()}`, orderId: unique(), status: 'DONE' });
      const other = JSON.stringify({ eventType: 'DEPOSIT_CALLBACK', createdAt: '2024-01-01T00:00:00.000', data: { orderId: unique(), status: 'DONE' } });
      const bare = JSON.stringify({ eventType: 'SOMETHING_NEW', data: {} });
      for (const body of [payment, other, bare]) {
        const res = await post(body);
        expect(res.status, body).to.equal(200);
        expect(res.body).to.deep.equal({ received: true, duplicate: false, outcome: UNVERIFIED_UNKNOWN });
        expect(await stored(body), body).to.deep.equal([]);
      }
      expect(await tossEvents()).to.equal(before);
    });

    it('does not count an order of another provider as known', async () => {
      const u = await newUser(node);
      const sandboxOrder = await request(node, 'POST', '/payments/orders', { token: u.accessToken, body: { productId: 'widgets.pack', provider: 'sandbox' }, headers: { 'idempotency-key': crypto.randomUUID() } });
      const body = tossStatusWebhook({ paymentKey: 'pk_x', orderId: sandboxOrder.body.orderId, status: 'DONE' });
      const res = await post(body);
      expect(res.body.outcome).to.equal(UNVERIFIED_UNKNOWN);
      expect(await stored(body)).to.deep.equal([]);
    });

    it('records an unsigned event that names one of our Toss orders, and acts on the looked-up state', async () => {
      const { orderId, paymentKey } = await tossOrder();
      const body = tossStatusWebhook({ paymentKey, orderId, status: 'DONE' });
      const res = await post(body);
      expect(res.status).to.equal(200);
      // Toss reports the payment authorised but not confirmed: nothing to apply, but the event is kept.
      expect(res.body).to.deep.equal({ received: true, duplicate: false, outcome: 'unchanged' });
      expect(await stored(body)).to.deep.equal([{ event_type: 'PAYMENT_STATUS_CHANGED', outcome: 'unchanged' }]);
      expect((await post(body)).body).to.include({ duplicate: true });
      const deposit = JSON.stringify({ eventType: 'DEPOSIT_CALLBACK', createdAt: '2024-01-01T00:00:00.000', data: { orderId, status: 'WAITING_FOR_DEPOSIT' } });
      expect((await post(deposit)).body.outcome).to.equal('ignored');
      expect(await stored(deposit)).to.deep.equal([{ event_type: 'DEPOSIT_CALLBACK', outcome: 'ignored' }]);
    });

    it('records a signed event whatever it names, and refuses a bad signature with 401, storing nothing', async () => {
      const payout = JSON.stringify({ eventType: 'payout.changed', createdAt: '2024-01-01T00:00:00.000', data: { payoutKey: crypto.randomUUID(), status: 'COMPLETED' } });
      const res = await post(payout, signed(payout));
      expect(res.status).to.equal(200);
      expect(res.body.outcome).to.equal('ignored');
      expect(await stored(payout)).to.deep.equal([{ event_type: 'payout.changed', outcome: 'ignored' }]);

      const unknownPayment = tossStatusWebhook({ paymentKey: `pk_${crypto.randomUUID()}`, orderId: unique(), status: 'DONE' });
      expect((await post(unknownPayment, signed(unknownPayment))).body.outcome).to.equal('unknown_order');
      expect(await stored(unknownPayment)).to.deep.equal([{ event_type: 'PAYMENT_STATUS_CHANGED', outcome: 'unknown_order' }]);

      const forged = JSON.stringify({ eventType: 'payout.changed', data: { payoutKey: crypto.randomUUID() } });
      const refused = await post(forged, signed(forged, 'not-the-security-key'));
      expect(refused.status).to.equal(401);
      expect(refused.body.code).to.equal('invalid_signature');
      expect(await stored(forged)).to.deep.equal([]);
    });
  });

  describe('the size cap', () => {
    // Valid JSON of exactly `bytes` bytes: an unsigned event naming nothing, so it is answered 200.
    const padded = (bytes: number) => {
      const head = '{"eventType":"SOMETHING_NEW","data":{},"pad":"';
      return `${head}${'x'.repeat(bytes - head.length - 2)}"}`;
    };

    it(`takes a body of ${MAX_WEBHOOK_BYTES} bytes and refuses one byte more with 413 problem+json`, async () => {
      const atCap = padded(MAX_WEBHOOK_BYTES);
      expect(Buffer.byteLength(atCap)).to.equal(MAX_WEBHOOK_BYTES);
      expect((await post(atCap)).status).to.equal(200);
      const before = await tossEvents();
      const res = await post(padded(MAX_WEBHOOK_BYTES + 1));
      expect(res.status).to.equal(413);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(res.body).to.include({ status: 413, code: 'payload_too_large' });
      expect(await tossEvents()).to.equal(before);
    });

    it('refuses a chunked body (no Content-Length) once it passes the cap', async () => {
      const chunk = new TextEncoder().encode('x'.repeat(16 * 1024));
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          // Four times the cap at most: the server must answer before the sender stops.
          if (sent >= 4 * MAX_WEBHOOK_BYTES) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const res = await fetch(`${node.url}/webhooks/toss`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, duplex: 'half' } as RequestInit);
      expect(res.status).to.equal(413);
      expect(res.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(((await res.json()) as { code: string }).code).to.equal('payload_too_large');
    });
  });

  describe('the per-IP rate limit', () => {
    it('answers a burst from one IP with 429 and Retry-After while another IP still passes', async () => {
      // Behind a proxy (TRUST_PROXY=true) the client's address is the one X-Forwarded-For names.
      const limited = await startNode({ TRUST_PROXY: 'true', RATE_LIMIT_WEBHOOK_PER_MINUTE: '3', RATE_LIMIT_IP_PER_MINUTE: '3' });
      const [a, b] = [`203.0.113.${crypto.randomInt(1, 255)}`, `198.51.100.${crypto.randomInt(1, 255)}`];
      const from = (ip: string) => request(limited, 'POST', '/webhooks/revenuecat', { raw: '{}', headers: { 'x-forwarded-for': ip } });
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await from(a)).status);
      // The first three reach the handler (401: this node has no RevenueCat secret to check them with
      // — whatever it answers, it is not 429); the fourth is refused before anything is read.
      expect(statuses.slice(0, 3)).to.not.include(429);
      expect(statuses[3]).to.equal(429);
      const refused = await from(a);
      expect(refused.status).to.equal(429);
      expect(refused.headers.get('content-type')).to.match(/^application\/problem\+json/);
      expect(refused.body.code).to.equal('rate_limited');
      expect(Number(refused.headers.get('retry-after'))).to.be.greaterThan(0);
      expect((await from(b)).status).to.not.equal(429);
      // The webhook bucket is its own: the five webhook requests from `a` spent nothing of the
      // general per-IP limit (3 here), so the rest of the API still serves `a`.
      expect((await request(limited, 'GET', '/payments/products', { headers: { 'x-forwarded-for': a } })).status).to.equal(200);
    });
  });
});
