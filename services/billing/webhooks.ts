// Provider webhooks: verify the signature over the raw body, record the event once under
// (provider, event id), confirm the payment with the provider's API, and act — recording and
// acting in one transaction. A redelivered event is a 2xx no-op.
//
// What is recorded: every event whose sender proved itself (a verified signature or, for
// RevenueCat, its configured authorization), and every event that names one of our orders with
// that provider. Toss signs only some event types, so its route must take unsigned deliveries;
// an unsigned one that names no order of ours is answered 200 and stored nowhere: anyone can
// send one, and storing it would let them fill webhook_events. 200 rather than 4xx because a
// genuine Toss event for another environment's order (one Toss account shared by staging and
// production) would otherwise be redelivered for days.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { Payment, type PaymentProviderName } from '../../entities/billing/Payment.ts';
import type { PaymentProvider } from '../../integrations/payments/index.ts';
import { safeEqualText, verifyStandardWebhook, type WebhookHeaders } from '../../integrations/payments/standardWebhooks.ts';
import { AppError, badRequest, unauthorized } from '../errors.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { PaymentService } from './payments.ts';
import type { SubscriptionService } from './subscriptions.ts';

export type WebhookOutcome = { duplicate: boolean; outcome: string };

// The outcome of an unsigned event that names no order of ours: acknowledged, stored nowhere.
export const UNVERIFIED_UNKNOWN = 'ignored_unverified_unknown_order';

export type WebhookSecrets = {
  portone: string[];
  sandbox: string[];
  // Toss signs only some event types (tosspayments-webhook-signature); payment events are confirmed by lookup.
  toss: string[];
  revenuecat: { authorization?: string; hmacSecret?: string };
};

const tossEvent = z.object({
  eventType: z.string(),
  createdAt: z.string().optional(),
  data: z.object({ paymentKey: z.string().optional(), orderId: z.string().optional(), status: z.string().optional() }).passthrough(),
});
const portoneEvent = z.object({ type: z.string(), timestamp: z.string().optional(), data: z.object({ paymentId: z.string().optional(), transactionId: z.string().optional() }).passthrough() });
const sandboxEvent = z.object({ type: z.string(), data: z.object({ orderId: z.string(), paymentKey: z.string() }) });
const revenuecatEvent = z.object({
  api_version: z.string().optional(),
  event: z.object({
    id: z.string(),
    type: z.string(),
    app_user_id: z.string(),
    product_id: z.string().optional(),
    entitlement_ids: z.array(z.string()).nullable().optional(),
    expiration_at_ms: z.number().nullable().optional(),
    event_timestamp_ms: z.number().optional(),
    environment: z.string().optional(),
  }).passthrough(),
});

// Records a provider's event and runs `act` in one transaction: the unique (provider, event id)
// decides which of two concurrent deliveries acts, and an event whose handling failed is not
// recorded, so the provider's redelivery is handled afresh. Every webhook receiver records this way
// (the platform's payments here, the walk app's store notifications).
export async function recordWebhookEvent(
  em: Em, event: { provider: string; eventId: string; eventType: string; payload: unknown }, act: (tx: Em) => Promise<string>,
): Promise<WebhookOutcome> {
  return inTransaction(em, async (tx) => {
    const inserted = await tx.execute<{ id: string }[]>(
      `insert into webhook_events (provider, event_id, event_type, payload) values (?, ?, ?, ?)
       on conflict (provider, event_id) do nothing returning id`,
      [event.provider, event.eventId, event.eventType, JSON.stringify(event.payload)],
    );
    if (inserted.length === 0) return { duplicate: true, outcome: 'duplicate' };
    const outcome = await act(tx);
    await tx.execute('update webhook_events set processed_at = now(), outcome = ? where id = ?', [outcome, inserted[0].id]);
    return { duplicate: false, outcome };
  });
}

export function createWebhookService(deps: {
  em: Em;
  payments: PaymentService;
  subscriptions: SubscriptionService;
  secrets: WebhookSecrets;
  logger: Logger;
}) {
  const { em } = deps;

  function parse<T>(schema: z.ZodType<T>, rawBody: Buffer): T {
    let json: unknown;
    try {
      json = JSON.parse(rawBody.toString('utf8'));
    } catch {
      throw badRequest('invalid_json', 'Webhook body is not valid JSON', 'body');
    }
    const parsed = schema.safeParse(json);
    if (!parsed.success) throw new AppError(400, 'invalid_webhook', 'Webhook body has an unexpected shape', { issues: parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'body', message: i.message })) });
    return parsed.data;
  }

  async function alreadyRecorded(provider: string, eventId: string): Promise<boolean> {
    const rows = await em.fork().execute('select 1 from webhook_events where provider = ? and event_id = ?', [provider, eventId]);
    return rows.length > 0;
  }

  const recordAndAct = (provider: string, eventId: string, eventType: string, payload: unknown, act: (tx: Em) => Promise<string>) =>
    recordWebhookEvent(em, { provider, eventId, eventType, payload }, act);

  // The order an event names, if it is one of ours with that provider: an event from one
  // provider naming another's order is not about anything that provider holds.
  async function orderOf(provider: PaymentProviderName, ref: { orderId?: string; paymentKey?: string }): Promise<Payment | null> {
    if (ref.orderId) return em.fork().findOne(Payment, { orderId: ref.orderId, provider });
    if (ref.paymentKey) return em.fork().findOne(Payment, { providerPaymentKey: ref.paymentKey, provider });
    return null;
  }

  // Answered like any processed event so the provider stops redelivering; nothing is stored.
  function notRecorded(provider: string, eventType: string, ref: { orderId?: string; paymentKey?: string }): WebhookOutcome {
    deps.logger.info({ provider, eventType, orderId: ref.orderId }, 'unsigned webhook names no order of ours; acknowledged, not recorded');
    return { duplicate: false, outcome: UNVERIFIED_UNKNOWN };
  }

  // For payment events: the provider's own record (fetched before the transaction, so no
  // connection is held across an HTTP call) decides what happens. `verified`: the sender proved
  // itself, so an event for an order we do not know is still recorded.
  async function paymentEvent(provider: PaymentProvider, eventId: string, eventType: string, payload: unknown, ref: { orderId?: string; paymentKey?: string }, verified: boolean): Promise<WebhookOutcome> {
    if (await alreadyRecorded(provider.name, eventId)) return { duplicate: true, outcome: 'duplicate' };
    const payment = await orderOf(provider.name, ref);
    if (!payment) {
      if (!verified) return notRecorded(provider.name, eventType, ref);
      // Not ours (another environment sharing the provider account) or already purged: acknowledged, recorded.
      return recordAndAct(provider.name, eventId, eventType, payload, async () => 'unknown_order');
    }
    const remote = await provider.lookup({ paymentKey: ref.paymentKey ?? payment.providerPaymentKey ?? '', orderId: payment.orderId });
    const result = await recordAndAct(provider.name, eventId, eventType, payload, (tx) => deps.payments.applyProviderState(tx, payment.id, remote));
    if (result.outcome === 'amount_mismatch') {
      throw new AppError(422, 'amount_mismatch', 'The provider reports an amount that does not match the order; the event was recorded and refused');
    }
    return result;
  }

  // Toss signs only some event types (tosspayments-webhook-signature); a signature that is
  // present must verify (401 otherwise), and its absence is allowed but leaves the event
  // unverified. Payment events are confirmed by looking the payment up, never taken from the body.
  async function toss(rawBody: Buffer, headers: WebhookHeaders): Promise<WebhookOutcome> {
    const signature = single(headers['tosspayments-webhook-signature']);
    if (signature) verifyTossSignature(deps.secrets.toss, rawBody, signature, single(headers['tosspayments-webhook-transmission-time']));
    const verified = Boolean(signature);
    const event = parse(tossEvent, rawBody);
    const ref = { orderId: event.data.orderId, paymentKey: event.data.paymentKey };
    // Toss sends no event id; a redelivery repeats the body byte for byte.
    const eventId = crypto.createHash('sha256').update(rawBody).digest('hex');
    if (event.eventType === 'PAYMENT_STATUS_CHANGED') return paymentEvent(deps.payments.provider('toss'), eventId, event.eventType, event, ref, verified);
    if (!verified && !(await orderOf('toss', ref))) return notRecorded('toss', event.eventType, ref);
    return recordAndAct('toss', eventId, event.eventType, event, async () => 'ignored');
  }

  async function portone(rawBody: Buffer, headers: WebhookHeaders): Promise<WebhookOutcome> {
    const verified = verifyStandardWebhook(deps.secrets.portone, headers, rawBody);
    if (!verified.ok) throw unauthorized('invalid_signature', `Webhook signature refused: ${verified.reason}`);
    const event = parse(portoneEvent, rawBody);
    if (!event.type.startsWith('Transaction.') || !event.data.paymentId) return recordAndAct('portone', verified.id, event.type, event, async () => 'ignored');
    return paymentEvent(deps.payments.provider('portone'), verified.id, event.type, event, { orderId: event.data.paymentId }, true);
  }

  async function sandbox(rawBody: Buffer, headers: WebhookHeaders): Promise<WebhookOutcome> {
    const verified = verifyStandardWebhook(deps.secrets.sandbox, headers, rawBody);
    if (!verified.ok) throw unauthorized('invalid_signature', `Webhook signature refused: ${verified.reason}`);
    const event = parse(sandboxEvent, rawBody);
    return paymentEvent(deps.payments.provider('sandbox'), verified.id, event.type, event, event.data, true);
  }

  // RevenueCat sends the Authorization header configured in its dashboard; seed 000 also asks
  // for an HMAC-SHA256 of the body (X-RevenueCat-Signature). Each configured check must pass.
  async function revenuecat(rawBody: Buffer, headers: WebhookHeaders): Promise<WebhookOutcome> {
    const { authorization, hmacSecret } = deps.secrets.revenuecat;
    if (!authorization && !hmacSecret) throw new AppError(503, 'webhook_not_configured', 'RevenueCat webhooks are not configured on this server');
    if (authorization && !safeEqualText(single(headers.authorization) ?? '', authorization)) throw unauthorized('invalid_signature', 'Webhook authorization refused');
    if (hmacSecret) {
      const presented = (single(headers['x-revenuecat-signature']) ?? '').replace(/^sha256=/i, '');
      const expected = crypto.createHmac('sha256', hmacSecret).update(rawBody).digest('hex');
      if (!safeEqualText(presented.toLowerCase(), expected)) throw unauthorized('invalid_signature', 'Webhook signature refused');
    }
    const { event } = parse(revenuecatEvent, rawBody);
    if (await alreadyRecorded('revenuecat', event.id)) return { duplicate: true, outcome: 'duplicate' };
    const confirmed = await deps.subscriptions.confirmWithProvider(event);
    return recordAndAct('revenuecat', event.id, event.type, { event }, (tx) => deps.subscriptions.apply(tx, confirmed));
  }

  return { toss, portone, sandbox, revenuecat };
}

export type WebhookService = ReturnType<typeof createWebhookService>;

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

// "v1:<base64>,v1:<base64>" over "<body>:<transmission time>", HMAC-SHA256 with the security key.
function verifyTossSignature(secrets: string[], rawBody: Buffer, header: string, transmissionTime: string | undefined): void {
  if (!transmissionTime) throw unauthorized('invalid_signature', 'tosspayments-webhook-transmission-time is missing');
  const presented = header.split(',').map((s) => s.trim()).filter((s) => s.startsWith('v1:')).map((s) => Buffer.from(s.slice(3), 'base64'));
  for (const secret of secrets) {
    const expected = crypto.createHmac('sha256', secret).update(rawBody).update(`:${transmissionTime}`).digest();
    if (presented.some((p) => p.length === expected.length && crypto.timingSafeEqual(p, expected))) return;
  }
  throw unauthorized('invalid_signature', 'Toss webhook signature refused');
}
