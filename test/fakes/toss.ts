// A fake of the Toss Payments API v1 (confirm, lookup by paymentKey or orderId, cancel) with its
// real auth (Basic <secretKey:>), error bodies ({ code, message }) and Idempotency-Key replay.
import { startFakeServer, type FakeReply, type FakeServer } from './http.ts';

type TossPayment = { paymentKey: string; orderId: string; status: string; totalAmount: number; balanceAmount: number; currency: 'KRW'; method: string; approvedAt: string | null };

export type FakeToss = FakeServer & {
  // The widget authorised this payment in the customer's browser; the merchant must now confirm it.
  authorize: (p: { paymentKey: string; orderId: string; amount: number; reject?: string }) => void;
  payment: (paymentKey: string) => TossPayment | undefined;
  failNext: (count: number, status?: number) => void;
  // The next requests get no answer in time.
  stallNext: (count: number) => void;
  // The next confirm is approved at once but answered only on release(): `approved` settles when
  // Toss has approved it, so a test can make a webhook overtake the confirm's answer.
  holdNextConfirm: () => { approved: Promise<void>; release: () => void };
};

export async function startFakeToss(opts: { secretKey: string }): Promise<FakeToss> {
  const payments = new Map<string, TossPayment & { reject?: string }>();
  const idempotent = new Map<string, FakeReply>();
  let failures = 0;
  let stalls = 0;
  let failureStatus = 500;
  const expectedAuth = `Basic ${Buffer.from(`${opts.secretKey}:`).toString('base64')}`;
  const error = (status: number, code: string, message: string): FakeReply => ({ status, body: { code, message } });
  const view = ({ reject: _r, ...p }: TossPayment & { reject?: string }) => p;

  let held: { approved: () => void; released: Promise<void> } | undefined;
  const server = await startFakeServer(async (req) => {
    if (req.headers.authorization !== expectedAuth) return error(401, 'UNAUTHORIZED_KEY', '인증되지 않은 시크릿 키 혹은 클라이언트 키 입니다.');
    if (stalls > 0) {
      stalls--;
      // Holds the request past any client timeout, then gives up answering.
      await new Promise((r) => setTimeout(r, 5_000));
      return error(504, 'TIMEOUT', 'stalled');
    }
    if (failures > 0) {
      failures--;
      return error(failureStatus, 'FAILED_INTERNAL_SYSTEM_PROCESSING', '내부 시스템 처리 작업이 실패했습니다.');
    }
    const key = req.headers['idempotency-key'] as string | undefined;
    const cacheKey = key ? `${req.path}|${key}` : undefined;
    if (cacheKey && idempotent.has(cacheKey)) return idempotent.get(cacheKey)!;
    const reply = await route(req.method, req.path, req.json);
    if (cacheKey && reply.status < 500) idempotent.set(cacheKey, reply);
    return reply;
  });

  async function route(method: string, path: string, body: any): Promise<FakeReply> {
    if (method === 'POST' && path === '/v1/payments/confirm') {
      const p = payments.get(body?.paymentKey);
      if (!p || p.orderId !== body.orderId) return error(404, 'NOT_FOUND_PAYMENT', '존재하지 않는 결제 정보 입니다.');
      if (p.status === 'DONE') return error(400, 'ALREADY_PROCESSED_PAYMENT', '이미 처리된 결제 입니다.');
      if (body.amount !== p.totalAmount) return error(400, 'INVALID_REQUEST', '잘못된 요청입니다.');
      if (p.reject) {
        p.status = 'ABORTED';
        return error(400, p.reject, '카드 결제가 거절되었습니다.');
      }
      p.status = 'DONE';
      p.approvedAt = new Date().toISOString();
      // Approved at once, answered late: a webhook can overtake the confirm's response.
      const hold = held;
      held = undefined;
      if (hold) {
        hold.approved();
        await hold.released;
      }
      return { status: 200, body: view(p) };
    }
    let m = /^\/v1\/payments\/orders\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      const p = [...payments.values()].find((x) => x.orderId === decodeURIComponent(m![1]));
      return p ? { status: 200, body: view(p) } : error(404, 'NOT_FOUND_PAYMENT', '존재하지 않는 결제 정보 입니다.');
    }
    m = /^\/v1\/payments\/([^/]+)$/.exec(path);
    if (method === 'GET' && m) {
      const p = payments.get(decodeURIComponent(m[1]));
      return p ? { status: 200, body: view(p) } : error(404, 'NOT_FOUND_PAYMENT', '존재하지 않는 결제 정보 입니다.');
    }
    m = /^\/v1\/payments\/([^/]+)\/cancel$/.exec(path);
    if (method === 'POST' && m) {
      const p = payments.get(decodeURIComponent(m[1]));
      if (!p) return error(404, 'NOT_FOUND_PAYMENT', '존재하지 않는 결제 정보 입니다.');
      if (p.status !== 'DONE' && p.status !== 'PARTIAL_CANCELED') return error(400, 'NOT_CANCELABLE_PAYMENT', '취소 할 수 없는 결제 입니다.');
      const amount = body?.cancelAmount ?? p.balanceAmount;
      if (amount > p.balanceAmount) return error(400, 'NOT_CANCELABLE_AMOUNT', '취소 할 수 없는 금액 입니다.');
      p.balanceAmount -= amount;
      p.status = p.balanceAmount === 0 ? 'CANCELED' : 'PARTIAL_CANCELED';
      return { status: 200, body: view(p) };
    }
    return error(404, 'NOT_FOUND', 'unknown path');
  }

  return Object.assign(server, {
    authorize: (p: { paymentKey: string; orderId: string; amount: number; reject?: string }) => {
      payments.set(p.paymentKey, { paymentKey: p.paymentKey, orderId: p.orderId, status: 'IN_PROGRESS', totalAmount: p.amount, balanceAmount: p.amount, currency: 'KRW', method: '카드', approvedAt: null, reject: p.reject });
    },
    payment: (paymentKey: string) => payments.get(paymentKey),
    failNext: (count: number, status = 500) => {
      failures = count;
      failureStatus = status;
    },
    stallNext: (count: number) => {
      stalls = count;
    },
    holdNextConfirm: () => {
      let approved!: () => void;
      let release!: () => void;
      const approvedPromise = new Promise<void>((r) => (approved = r));
      held = { approved, released: new Promise<void>((r) => (release = r)) };
      return { approved: approvedPromise, release };
    },
  });
}

export function tossStatusWebhook(p: { paymentKey: string; orderId: string; status: string }): string {
  return JSON.stringify({ eventType: 'PAYMENT_STATUS_CHANGED', createdAt: new Date().toISOString().slice(0, 23), data: p });
}
