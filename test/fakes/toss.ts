// A fake of the Toss Payments API v1 (confirm, lookup by paymentKey or orderId, cancel; 자동결제:
// billing key issue and charge, one payment per orderId) with its
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
  // 자동결제: the customer registered a card in Toss's window, which handed the app this authKey.
  authorizeBilling: (p: { authKey: string; customerKey: string }) => void;
  // Charges of this customer's card are refused with `code` from now on (null: approved again).
  declineCharges: (customerKey: string, code: string | null) => void;
  // The billing payments Toss approved for a customer, in order.
  billingCharges: (customerKey: string) => TossPayment[];
  // Toss keeps an Idempotency-Key's answer for a while (15 days); after that a repeat is a new request.
  forgetIdempotencyKeys: () => void;
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

  // authKey → its registration; billingKey → the customer it charges; customers whose card declines.
  const billingAuths = new Map<string, { customerKey: string; used: boolean }>();
  const billingKeys = new Map<string, string>();
  const declining = new Map<string, string>();
  const billingPayments: (TossPayment & { customerKey: string })[] = [];

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
    if (method === 'POST' && path === '/v1/billing/authorizations/issue') {
      const auth = billingAuths.get(body?.authKey);
      if (!auth || auth.customerKey !== body?.customerKey) return error(404, 'NOT_FOUND_AUTH_KEY', '존재하지 않는 인증 키 입니다.');
      if (auth.used) return error(400, 'INVALID_AUTH_KEY', '이미 사용된 인증 키 입니다.');
      auth.used = true;
      const billingKey = `bk_${crypto.randomUUID().replaceAll('-', '')}`;
      billingKeys.set(billingKey, auth.customerKey);
      return {
        status: 200,
        body: { mId: 'tvivarepublica', customerKey: auth.customerKey, authenticatedAt: new Date().toISOString(), method: '카드', billingKey, cardCompany: '신한', cardNumber: '43301234****123*', card: { issuerCode: '41', acquirerCode: '41', number: '43301234****123*', cardType: '신용', ownerType: '개인' } },
      };
    }
    let m = /^\/v1\/billing\/([^/]+)$/.exec(path);
    if (method === 'POST' && m) {
      const customerKey = billingKeys.get(decodeURIComponent(m[1]));
      if (!customerKey || customerKey !== body?.customerKey) return error(404, 'NOT_FOUND_BILLING_KEY', '존재하지 않는 빌링키 입니다.');
      if (typeof body.orderId !== 'string' || !Number.isInteger(body.amount) || body.amount <= 0 || typeof body.orderName !== 'string') return error(400, 'INVALID_REQUEST', '잘못된 요청입니다.');
      if ([...payments.values()].some((p) => p.orderId === body.orderId)) return error(400, 'DUPLICATED_ORDER_ID', '이미 승인 및 취소가 진행된 중복된 주문번호 입니다.');
      const declined = declining.get(customerKey);
      if (declined) return error(400, declined, '카드 결제가 거절되었습니다.');
      const p: TossPayment = { paymentKey: `tpk_${crypto.randomUUID().replaceAll('-', '')}`, orderId: body.orderId, status: 'DONE', totalAmount: body.amount, balanceAmount: body.amount, currency: 'KRW', method: '카드', approvedAt: new Date().toISOString() };
      payments.set(p.paymentKey, p);
      billingPayments.push({ ...p, customerKey });
      return { status: 200, body: p };
    }
    m = /^\/v1\/payments\/orders\/([^/]+)$/.exec(path);
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
    authorizeBilling: (p: { authKey: string; customerKey: string }) => {
      billingAuths.set(p.authKey, { customerKey: p.customerKey, used: false });
    },
    declineCharges: (customerKey: string, code: string | null) => {
      if (code) declining.set(customerKey, code);
      else declining.delete(customerKey);
    },
    forgetIdempotencyKeys: () => idempotent.clear(),
    billingCharges: (customerKey: string) => billingPayments.filter((p) => p.customerKey === customerKey).map(({ customerKey: _c, ...p }) => p),
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
