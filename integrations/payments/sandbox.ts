// OFFLINE DRIVER — development only. A stand-in payment provider: its checkout is our own page
// (GET /sandbox/checkout/:orderId) whose Approve/Decline buttons record the outcome here and send
// a Standard Webhooks-signed webhook to POST /webhooks/sandbox, the same path a real provider's
// webhook takes. Recurring billing is offered too: its checkout hands out auth keys whose billing
// keys approve (or decline) every charge. Every answer is labelled offline; production refuses to start with it.
import crypto from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { PaymentProviderError, type PaymentProvider, type ProviderPayment } from './index.ts';
import { signStandardWebhook } from './standardWebhooks.ts';

type Row = { payment_key: string; order_id: string; amount: number; status: 'approved' | 'declined' | 'cancelled'; cancelled_amount: number };

export type SandboxProvider = PaymentProvider & {
  // The checkout page's buttons: the "customer" approves or declines, and the sandbox notifies
  // our webhook over HTTP, as a real provider would. Returns the webhook's HTTP status.
  decide: (order: { orderId: string; amount: number }, decision: 'approve' | 'decline') => Promise<{ paymentKey: string; webhookStatus: number }>;
  signedWebhook: (event: Record<string, unknown>) => { body: string; headers: Record<string, string> };
};

export function createSandboxProvider(opts: { em: () => EntityManager; webhookSecret: string; publicUrl: () => string; webhookUrl: () => string }): SandboxProvider {
  async function row(orderId: string): Promise<Row> {
    const [r] = await opts.em().execute<Row[]>('select * from sandbox_transactions where order_id = ?', [orderId]);
    if (!r) throw new PaymentProviderError('sandbox', 'NOT_FOUND_PAYMENT', 'No sandbox checkout for this order', { status: 404 });
    return r;
  }

  const toPayment = (r: Row): ProviderPayment => ({
    paymentKey: r.payment_key,
    orderId: r.order_id,
    status: r.status === 'approved' ? (r.cancelled_amount > 0 ? (r.cancelled_amount >= r.amount ? 'cancelled' : 'partially_cancelled') : 'paid') : r.status === 'declined' ? 'failed' : 'cancelled',
    amount: r.amount,
    cancelledAmount: r.cancelled_amount,
    currency: 'KRW',
    raw: { ...r, provider: 'sandbox', offline: true },
  });

  const provider: SandboxProvider = {
    name: 'sandbox',
    offline: true,
    confirm: async ({ orderId }) => toPayment(await row(orderId)),
    lookup: async ({ orderId }) => toPayment(await row(orderId)),
    cancel: async ({ orderId }, { amount }) => {
      const r = await row(orderId);
      const cancel = amount ?? r.amount - r.cancelled_amount;
      await opts.em().execute('update sandbox_transactions set cancelled_amount = least(amount, cancelled_amount + ?), updated_at = now() where order_id = ?', [cancel, orderId]);
      return toPayment(await row(orderId));
    },
    checkout: (order) => ({ checkoutUrl: `${opts.publicUrl()}/sandbox/checkout/${encodeURIComponent(order.orderId)}`, offline: true }),
    decide: async (order, decision) => {
      // A second click keeps the first decision, as a real checkout cannot be paid twice.
      const [r] = await opts.em().execute<{ payment_key: string; status: string }[]>(
        `insert into sandbox_transactions (payment_key, order_id, amount, status) values (?, ?, ?, ?)
         on conflict (order_id) do update set updated_at = now() returning payment_key, status`,
        [`sbx_${crypto.randomUUID()}`, order.orderId, order.amount, decision === 'approve' ? 'approved' : 'declined'],
      );
      const webhook = signedWebhook({ type: r.status === 'approved' ? 'payment.approved' : 'payment.declined', data: { orderId: order.orderId, paymentKey: r.payment_key } });
      const res = await fetch(opts.webhookUrl(), { method: 'POST', headers: webhook.headers, body: webhook.body, signal: AbortSignal.timeout(10_000) });
      await res.body?.cancel();
      return { paymentKey: r.payment_key, webhookStatus: res.status };
    },
    signedWebhook,
    // 자동결제 offline: the checkout hands out signed auth keys for the customer (one whose card
    // is approved, one whose card is declined) in place of Toss's card registration window.
    billing: {
      issueBillingKey: async ({ authKey, customerKey }) => {
        const mode = (['approve', 'decline'] as const).find((m) => authKey === sandboxAuthKey(customerKey, m));
        if (!mode) throw new PaymentProviderError('sandbox', 'INVALID_AUTH_KEY', 'Not an auth key the sandbox issued for this customer', { status: 400 });
        return { billingKey: `sbx_bill_${mode}_${sign(`billing-key:${customerKey}:${mode}`)}`, customerKey, cardCompany: 'sandbox', cardNumber: mode === 'approve' ? '4330****1234' : '4330****0000' };
      },
      chargeBillingKey: async (billingKey, { customerKey, amount, orderId }) => {
        const mode = (['approve', 'decline'] as const).find((m) => billingKey === `sbx_bill_${m}_${sign(`billing-key:${customerKey}:${m}`)}`);
        if (!mode) throw new PaymentProviderError('sandbox', 'NOT_FOUND_BILLING_KEY', 'Not a billing key the sandbox issued for this customer', { status: 404 });
        // One payment per orderId, as Toss keeps it: a repeated charge answers the first outcome.
        await opts.em().execute(
          `insert into sandbox_transactions (payment_key, order_id, amount, status) values (?, ?, ?, ?) on conflict (order_id) do nothing`,
          [`sbx_${crypto.randomUUID()}`, orderId, amount, mode === 'approve' ? 'approved' : 'declined'],
        );
        const r = await row(orderId);
        if (r.status === 'declined') throw new PaymentProviderError('sandbox', 'REJECT_CARD_COMPANY', 'The sandbox card declines every charge', { status: 400 });
        return toPayment(r);
      },
      authCheckout: ({ customerKey }) => ({
        offline: true,
        sandbox: { authKey: sandboxAuthKey(customerKey, 'approve'), declineAuthKey: sandboxAuthKey(customerKey, 'decline') },
      }),
    },
  };
  return provider;

  function sign(text: string): string {
    return crypto.createHmac('sha256', opts.webhookSecret).update(`sandbox-billing:${text}`).digest('base64url').slice(0, 32);
  }

  function sandboxAuthKey(customerKey: string, mode: 'approve' | 'decline'): string {
    return `sbx_auth_${mode}_${sign(`auth-key:${customerKey}:${mode}`)}`;
  }

  function signedWebhook(event: Record<string, unknown>) {
    const body = JSON.stringify(event);
    const id = `msg_${crypto.randomUUID()}`;
    const timestamp = Math.floor(Date.now() / 1000);
    return {
      body,
      headers: {
        'content-type': 'application/json',
        'webhook-id': id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': signStandardWebhook(opts.webhookSecret, id, timestamp, body),
      },
    };
  }
}
