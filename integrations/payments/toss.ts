// Toss Payments REST API (v1): the merchant confirms each payment the widget authorised, and
// looks up or cancels payments by paymentKey. Auth: HTTP Basic with the secret key and an empty
// password. POSTs carry an Idempotency-Key so a retried confirm or cancel is applied once.
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
      return toProviderPayment((await res.json()) as TossPayment);
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
