// PortOne V2 REST API: payments are approved on PortOne's side (browser SDK); the server looks
// them up by paymentId (our orderId) and cancels them. Auth: "PortOne <API secret>".
import { fetchWithRetry } from '../http.ts';
import { toPaymentProviderError, type PaymentProvider, type ProviderPayment, type ProviderPaymentStatus } from './index.ts';

export type PortOneOptions = { apiSecret: string; storeId: string; channelKey: string; baseUrl?: string; timeoutMs?: number; retries?: number };

type PortOnePayment = {
  status: string;
  id: string;
  transactionId?: string;
  currency: string;
  amount: { total: number; paid?: number; cancelled?: number };
};

const STATUS: Record<string, ProviderPaymentStatus> = {
  PAID: 'paid',
  CANCELLED: 'cancelled',
  PARTIAL_CANCELLED: 'partially_cancelled',
  FAILED: 'failed',
};

export function createPortOneProvider(opts: PortOneOptions): PaymentProvider {
  const baseUrl = opts.baseUrl ?? 'https://api.portone.io';
  const authorization = `PortOne ${opts.apiSecret}`;

  async function request(method: 'GET' | 'POST', path: string, body?: unknown): Promise<unknown> {
    try {
      const res = await fetchWithRetry(baseUrl + path, {
        service: 'portone',
        method,
        timeoutMs: opts.timeoutMs ?? 10_000,
        retries: opts.retries ?? 2,
        headers: { authorization, 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      return await res.json();
    } catch (err) {
      throw toPaymentProviderError('portone', err, 'type');
    }
  }

  const lookup = async ({ orderId }: { orderId: string }) =>
    toProviderPayment((await request('GET', `/payments/${encodeURIComponent(orderId)}?storeId=${encodeURIComponent(opts.storeId)}`)) as PortOnePayment);

  return {
    name: 'portone',
    offline: false,
    // PortOne has no merchant-side approval step: "confirming" is reading PortOne's record.
    confirm: ({ orderId }) => lookup({ orderId }),
    lookup: ({ orderId }) => lookup({ orderId }),
    cancel: async ({ orderId }, { reason, amount }) => {
      await request('POST', `/payments/${encodeURIComponent(orderId)}/cancel`, { storeId: opts.storeId, reason, ...(amount ? { amount } : {}) });
      return lookup({ orderId });
    },
    checkout: (order) => ({ storeId: opts.storeId, channelKey: opts.channelKey, paymentId: order.orderId, totalAmount: order.amount, currency: 'CURRENCY_KRW', orderName: order.orderName }),
  };
}

function toProviderPayment(p: PortOnePayment): ProviderPayment {
  return {
    paymentKey: p.transactionId ?? p.id,
    orderId: p.id,
    status: STATUS[p.status] ?? 'pending',
    amount: p.amount.total,
    cancelledAmount: p.amount.cancelled ?? 0,
    currency: p.currency === 'CURRENCY_KRW' ? 'KRW' : p.currency,
    raw: p as unknown as Record<string, unknown>,
  };
}
