// Toss Payments REST API (v1): the merchant confirms each payment the widget authorised, and
// looks up or cancels payments by paymentKey; for 자동결제 it exchanges the card registration's
// authKey for a billing key and charges that key. Auth: HTTP Basic with the secret key and an empty
// password. POSTs carry an Idempotency-Key (≤ 300 characters) so a retried confirm, cancel, billing
// key issue or charge is applied once.
import { fetchWithRetry } from '../http.ts';
import { toPaymentProviderError, type PaymentProvider, type ProviderPayment, type ProviderPaymentStatus } from './index.ts';

export type TossOptions = { secretKey: string; clientKey: string; baseUrl?: string; timeoutMs?: number; retries?: number };

type TossPayment = {
  paymentKey: string;
  orderId: string;
  status: string;
  totalAmount: number;
  balanceAmount: number;
  currency: string;
};

// The answer to a billing key issue (Toss's Billing object).
type TossBillingKey = { billingKey: string; customerKey: string; cardCompany?: string; cardNumber?: string; card?: { number?: string } };

const STATUS: Record<string, ProviderPaymentStatus> = {
  DONE: 'paid',
  CANCELED: 'cancelled',
  PARTIAL_CANCELED: 'partially_cancelled',
  ABORTED: 'failed',
  EXPIRED: 'failed',
};

export function createTossProvider(opts: TossOptions): PaymentProvider {
  const baseUrl = opts.baseUrl ?? 'https://api.tosspayments.com';
  const authorization = `Basic ${Buffer.from(`${opts.secretKey}:`).toString('base64')}`;

  async function call(method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<ProviderPayment> {
    return toProviderPayment(await send<TossPayment>(method, path, body, idempotencyKey));
  }

  async function send<T>(method: 'GET' | 'POST', path: string, body?: unknown, idempotencyKey?: string): Promise<T> {
    try {
      const res = await fetchWithRetry(baseUrl + path, {
        service: 'toss',
        method,
        timeoutMs: opts.timeoutMs ?? 10_000,
        retries: opts.retries ?? 2,
        headers: {
          authorization,
          'content-type': 'application/json',
          ...(idempotencyKey ? { 'idempotency-key': idempotencyKey } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return (await res.json()) as T;
    } catch (err) {
      throw toPaymentProviderError('toss', err, 'code');
    }
  }

  return {
    name: 'toss',
    offline: false,
    confirm: ({ paymentKey, orderId, amount }) =>
      call('POST', '/v1/payments/confirm', { paymentKey, orderId, amount }, `confirm-${orderId}`),
    // Before a confirm we may know only our orderId; Toss can look a payment up by either.
    lookup: ({ paymentKey, orderId }) =>
      call('GET', paymentKey ? `/v1/payments/${encodeURIComponent(paymentKey)}` : `/v1/payments/orders/${encodeURIComponent(orderId)}`),
    cancel: ({ paymentKey }, { reason, amount, idempotencyKey }) =>
      call('POST', `/v1/payments/${encodeURIComponent(paymentKey)}/cancel`, { cancelReason: reason, ...(amount ? { cancelAmount: amount } : {}) }, idempotencyKey),
    checkout: (order) => ({ clientKey: opts.clientKey, orderId: order.orderId, amount: order.amount, orderName: order.orderName }),
    // 자동결제 (billing): the app opens Toss's card registration (requestBillingAuth) with the
    // clientKey and customerKey; its success redirect carries the authKey we exchange here.
    billing: {
      issueBillingKey: async ({ authKey, customerKey }) => {
        const b = await send<TossBillingKey>('POST', '/v1/billing/authorizations/issue', { authKey, customerKey }, `billing-issue-${authKey}`);
        return { billingKey: b.billingKey, customerKey: b.customerKey, cardCompany: b.cardCompany ?? null, cardNumber: b.cardNumber ?? b.card?.number ?? null };
      },
      chargeBillingKey: (billingKey, { customerKey, amount, orderId, orderName }) =>
        call('POST', `/v1/billing/${encodeURIComponent(billingKey)}`, { customerKey, amount, orderId, orderName }, `billing-${orderId}`),
      authCheckout: ({ customerKey }) => ({ clientKey: opts.clientKey, customerKey, method: 'CARD' }),
    },
  };
}

function toProviderPayment(p: TossPayment): ProviderPayment {
  return {
    paymentKey: p.paymentKey,
    orderId: p.orderId,
    status: STATUS[p.status] ?? 'pending',
    amount: p.totalAmount,
    cancelledAmount: p.totalAmount - p.balanceAmount,
    currency: p.currency,
    raw: p as unknown as Record<string, unknown>,
  };
}
