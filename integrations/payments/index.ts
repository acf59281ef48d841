// What the payment services need from a payment provider. Every answer is the provider's own
// record of the payment: amounts and statuses are taken from here, never from a client.
import { ProviderError } from '../http.ts';

export type ProviderPaymentStatus = 'paid' | 'pending' | 'failed' | 'cancelled' | 'partially_cancelled';

export type ProviderPayment = {
  paymentKey: string;
  orderId: string;
  status: ProviderPaymentStatus;
  // Total approved amount in KRW, and how much of it has been cancelled/refunded.
  amount: number;
  cancelledAmount: number;
  currency: string;
  raw: Record<string, unknown>;
};

export type PaymentProvider = {
  name: 'toss' | 'portone' | 'sandbox';
  // Labels the sandbox (offline) provider; production refuses it.
  offline: boolean;
  // Toss approves a payment only when the merchant confirms it; PortOne and the sandbox approve
  // on their side and this just looks the payment up.
  confirm: (input: { paymentKey: string; orderId: string; amount: number }) => Promise<ProviderPayment>;
  lookup: (ref: { paymentKey: string; orderId: string }) => Promise<ProviderPayment>;
  cancel: (ref: { paymentKey: string; orderId: string }, input: { reason: string; amount?: number; idempotencyKey: string }) => Promise<ProviderPayment>;
  // What a client needs to open this provider's checkout for an order.
  checkout: (order: { orderId: string; amount: number; orderName: string }) => Record<string, unknown>;
  // Recurring billing (Toss 자동결제), where the provider offers it: a card registered once in the
  // provider's window gives a billing key, which the merchant then charges without the customer.
  billing?: BillingProvider;
};

export type BillingAuthorization = { billingKey: string; customerKey: string; cardCompany: string | null; cardNumber: string | null };

export type BillingProvider = {
  // The customer registered a card in the provider's window, which handed the app an authKey.
  issueBillingKey: (input: { authKey: string; customerKey: string }) => Promise<BillingAuthorization>;
  // One charge; the provider refuses a second payment under the same orderId, so a retried charge is applied once.
  chargeBillingKey: (billingKey: string, input: { customerKey: string; amount: number; orderId: string; orderName: string }) => Promise<ProviderPayment>;
  // What a client needs to open the card registration window for this customer.
  authCheckout: (input: { customerKey: string }) => Record<string, unknown>;
};

export class PaymentProviderError extends Error {
  readonly provider: string;
  readonly code: string;
  readonly status?: number;
  readonly retryable: boolean;
  constructor(provider: string, code: string, message: string, opts: { status?: number; retryable?: boolean; cause?: unknown } = {}) {
    super(`${provider}: ${code}: ${message}`, { cause: opts.cause });
    this.name = 'PaymentProviderError';
    this.provider = provider;
    this.code = code;
    this.status = opts.status;
    this.retryable = opts.retryable ?? false;
  }
}

// Providers name their refusals in the error body (Toss: { code, message }, PortOne: { type, message });
// `codeField` says which field carries the code.
export function toPaymentProviderError(provider: string, err: unknown, codeField: 'code' | 'type'): PaymentProviderError {
  if (!(err instanceof ProviderError)) return new PaymentProviderError(provider, 'network_error', String(err), { retryable: true, cause: err });
  // No status: the provider never answered (timeout, connection refused).
  let code = err.status === undefined ? 'provider_unreachable' : 'http_error';
  let message = err.message;
  try {
    const body = JSON.parse(err.responseBody ?? '') as Record<string, unknown>;
    if (typeof body[codeField] === 'string') code = body[codeField] as string;
    if (typeof body.message === 'string') message = body.message;
  } catch {
    /* not JSON: keep the HTTP status as the code */
  }
  return new PaymentProviderError(provider, code, message, { status: err.status, retryable: err.retryable, cause: err });
}
