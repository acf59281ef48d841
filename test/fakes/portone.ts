// A fake of the PortOne V2 API (GET /payments/{paymentId}, POST /payments/{paymentId}/cancel) with
// its auth ("PortOne <secret>") and error shape ({ type, message }), plus Standard Webhooks signing.
import crypto from 'node:crypto';
import { signStandardWebhook } from '../../integrations/payments/standardWebhooks.ts';
import { startFakeServer, type FakeReply, type FakeServer } from './http.ts';

type PortOnePayment = { status: string; id: string; transactionId: string; storeId: string; currency: 'KRW'; amount: { total: number; paid: number; cancelled: number }; paidAt?: string };

export type FakePortOne = FakeServer & {
  pay: (paymentId: string, amount: number) => PortOnePayment;
  signedWebhook: (type: string, paymentId: string, opts?: { secret?: string; timestamp?: number }) => { body: string; headers: Record<string, string> };
};

export async function startFakePortOne(opts: { apiSecret: string; storeId: string; webhookSecret: string }): Promise<FakePortOne> {
  const payments = new Map<string, PortOnePayment>();
  const error = (status: number, type: string, message: string): FakeReply => ({ status, body: { type, message } });
  const server = await startFakeServer((req) => {
    if (req.headers.authorization !== `PortOne ${opts.apiSecret}`) return error(401, 'UNAUTHORIZED', 'Invalid API secret');
    let m = /^\/payments\/([^/]+)$/.exec(req.path);
    if (req.method === 'GET' && m) {
      const p = payments.get(decodeURIComponent(m[1]));
      return p && req.query.get('storeId') === opts.storeId ? { status: 200, body: p } : error(404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
    }
    m = /^\/payments\/([^/]+)\/cancel$/.exec(req.path);
    if (req.method === 'POST' && m) {
      const p = payments.get(decodeURIComponent(m[1]));
      if (!p) return error(404, 'PAYMENT_NOT_FOUND', '결제 건이 존재하지 않습니다.');
      const amount = req.json?.amount ?? p.amount.paid - p.amount.cancelled;
      p.amount.cancelled += amount;
      p.status = p.amount.cancelled >= p.amount.total ? 'CANCELLED' : 'PARTIAL_CANCELLED';
      return { status: 200, body: { cancellation: { status: 'SUCCEEDED', totalAmount: amount } } };
    }
    return error(404, 'NOT_FOUND', 'unknown path');
  });
  return Object.assign(server, {
    pay: (paymentId: string, amount: number) => {
      const p: PortOnePayment = { status: 'PAID', id: paymentId, transactionId: crypto.randomUUID(), storeId: opts.storeId, currency: 'KRW', amount: { total: amount, paid: amount, cancelled: 0 }, paidAt: new Date().toISOString() };
      payments.set(paymentId, p);
      return p;
    },
    signedWebhook: (type: string, paymentId: string, o: { secret?: string; timestamp?: number } = {}) => {
      const body = JSON.stringify({ type, timestamp: new Date().toISOString(), data: { storeId: opts.storeId, paymentId, transactionId: payments.get(paymentId)?.transactionId } });
      const id = `msg_${crypto.randomUUID()}`;
      const timestamp = o.timestamp ?? Math.floor(Date.now() / 1000);
      return {
        body,
        headers: { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signStandardWebhook(o.secret ?? opts.webhookSecret, id, timestamp, body) },
      };
    },
  });
}
