// One payments model for every module. A module declares what happens when its order is paid,
// refunded or expires (its definition's payments handlers); that handler runs in the same
// transaction that moves the payment, and every
// move is a guarded UPDATE (… WHERE status = 'pending'), so a confirm racing a webhook applies once.
// Amounts and statuses come from the provider's API, never from a client or a webhook body.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { Payment, type PaymentProviderName } from '../../entities/billing/Payment.ts';
import { PaymentProduct } from '../../entities/billing/PaymentProduct.ts';
import { PaymentProviderError, type PaymentProvider, type ProviderPayment } from '../../integrations/payments/index.ts';
import type { SandboxProvider } from '../../integrations/payments/sandbox.ts';
import { AppError, badRequest, conflict, notFound, unavailable } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import type { CreateOrderInput, OrderDto, TossConfirmInput } from './schemas.ts';

export type PaymentHandlers = {
  onPaid: (tx: Em, payment: Payment) => Promise<void>;
  // `amount` is what this refund returned (a partial refund leaves the payment paid).
  onRefunded?: (tx: Em, payment: Payment, amount: number) => Promise<void>;
  onExpired?: (tx: Em, payment: Payment) => Promise<void>;
};

export type ApplyOutcome = 'paid' | 'failed' | 'cancelled' | 'refunded' | 'partially_refunded' | 'unchanged' | 'amount_mismatch';

export type PaymentDeps = {
  em: Em;
  providers: Map<PaymentProviderName, PaymentProvider>;
  defaultProvider: PaymentProviderName;
  time: TimeFormatter;
  // Orders are stamped and expired on this clock, so the TTL compares like with like.
  clock: Clock;
  logger: Logger;
  pendingTtlMinutes: number;
  // Each module's handlers; 'not_served' for a module that runs on other nodes than this one (a
  // payment of it is rolled back and answered 503 here, so the provider redelivers to a node that serves it).
  handlers: Map<string, PaymentHandlers | 'not_served'>;
};

export function moduleNotServed(module: string): AppError {
  return new AppError(503, 'module_not_served', `This node does not serve the ${module} module; retry (another node will)`, { extra: { module } });
}

export function createPaymentService(deps: PaymentDeps) {
  const { em } = deps;
  // The modules whose payments this node completes.
  const served = [...deps.handlers].filter(([, h]) => h !== 'not_served').map(([name]) => name);

  function handlersOf(payment: Payment): PaymentHandlers {
    const h = deps.handlers.get(payment.module);
    if (h === 'not_served') throw moduleNotServed(payment.module);
    // Start-up refuses a product on sale without its module's handler; a row that still names an
    // unknown module (a module removed from the list) must not be marked paid with nothing granted.
    if (!h) throw new Error(`payment ${payment.orderId}: no module "${payment.module}" handles its payments`);
    return h;
  }

  function provider(name: PaymentProviderName): PaymentProvider {
    const p = deps.providers.get(name);
    if (!p) throw badRequest('provider_unavailable', `Payment provider "${name}" is not configured on this server`, 'provider');
    return p;
  }

  // The providers as other services (the webhooks) call them: a provider's failure leaves as the
  // AppError toAppError makes of it, so a provider's 404 is not a 500 and its words reach no client.
  const guarded = new Map<PaymentProviderName, PaymentProvider>();
  function guardedProvider(name: PaymentProviderName): PaymentProvider {
    let p = guarded.get(name);
    if (p) return p;
    const raw = provider(name);
    const guard = <A extends unknown[], R>(call: (...args: A) => Promise<R>) => async (...args: A): Promise<R> => {
      try {
        return await call(...args);
      } catch (err) {
        if (!(err instanceof PaymentProviderError)) throw err;
        deps.logger.warn({ err, provider: name }, 'payment provider call failed');
        throw toAppError(err);
      }
    };
    guarded.set(name, (p = { ...raw, confirm: guard(raw.confirm), lookup: guard(raw.lookup), cancel: guard(raw.cancel) }));
    return p;
  }

  function toDto(p: Payment): OrderDto {
    const prov = deps.providers.get(p.provider);
    return {
      orderId: p.orderId,
      productId: p.productId,
      module: p.module,
      orderName: p.orderName,
      provider: p.provider,
      amount: p.amount,
      currency: 'KRW',
      status: p.status,
      refundedAmount: p.refundedAmount,
      failureReason: p.failureReason ?? null,
      checkout: p.status === 'pending' && prov ? prov.checkout({ orderId: p.orderId, amount: p.amount, orderName: p.orderName }) : null,
      offline: prov?.offline ?? false,
      createdAt: deps.time.format(p.createdAt),
      paidAt: deps.time.formatNullable(p.paidAt),
    };
  }

  async function listProducts(module?: string) {
    const products = await em.find(PaymentProduct, { active: true, module: module ? { $eq: module, $in: served } : { $in: served } }, { orderBy: { module: 'asc', sortOrder: 'asc' } });
    return products.map((p) => ({ id: p.id, module: p.module, name: p.name, amount: p.amount, grants: p.grants }));
  }

  // The price comes from our product table; the client only names the product.
  async function createOrder(userId: string, input: CreateOrderInput): Promise<OrderDto> {
    const product = await em.findOne(PaymentProduct, { id: input.productId, active: true });
    if (!product) throw badRequest('unknown_product', `No product "${input.productId}" is on sale`, 'productId');
    if (!served.includes(product.module)) throw moduleNotServed(product.module);
    const providerName = input.provider ?? deps.defaultProvider;
    provider(providerName);
    const payment = await inTransaction(em, async (tx) => {
      const p = tx.create(Payment, {
        orderId: `ord_${crypto.randomUUID().replaceAll('-', '')}`,
        userId,
        module: product.module,
        productId: product.id,
        orderName: product.name,
        provider: providerName,
        amount: product.amount,
        currency: 'KRW',
        status: 'pending',
        refundedAmount: 0,
        metadata: input.metadata ?? null,
        createdAt: deps.clock.now(),
      });
      await tx.flush();
      return p;
    });
    return toDto(payment);
  }

  async function ownOrder(userId: string, orderId: string): Promise<Payment> {
    const payment = await em.findOne(Payment, { orderId });
    // Someone else's order reads as absent: order ids must not be probeable.
    if (!payment || payment.userId !== userId) throw notFound('Order');
    return payment;
  }

  async function getOrder(userId: string, orderId: string): Promise<OrderDto> {
    return toDto(await ownOrder(userId, orderId));
  }

  async function recordFailure(tx: Em, payment: Payment | { id?: string; orderId: string; provider: string }, reason: string, detail: string, raw?: unknown) {
    await tx.execute(
      'insert into payment_failures (payment_id, order_id, provider, reason, detail, raw) values (?, ?, ?, ?, ?, ?)',
      [payment.id ?? null, payment.orderId, payment.provider, reason, detail.slice(0, 2000), raw === undefined ? null : JSON.stringify(raw)],
    );
  }

  // Moves the payment to what the provider reports, in the caller's transaction. Idempotent:
  // a state already applied leaves everything unchanged and runs no handler.
  async function applyProviderState(tx: Em, paymentId: string, remote: ProviderPayment): Promise<ApplyOutcome> {
    const payment = await tx.findOneOrFail(Payment, { id: paymentId }, { refresh: true });
    if (remote.orderId !== payment.orderId || remote.currency !== 'KRW' || remote.amount !== payment.amount) {
      await recordFailure(tx, payment, 'amount_mismatch', `provider reports ${remote.amount} ${remote.currency} for ${remote.orderId}; order is ${payment.amount} KRW`, remote.raw);
      await guardedMove(tx, payment.id, 'pending', 'failed', { failure_reason: 'amount_mismatch' });
      deps.logger.error({ orderId: payment.orderId, provider: payment.provider }, 'payment amount mismatch refused');
      return 'amount_mismatch';
    }
    const common = { provider_payment_key: remote.paymentKey, provider_response: JSON.stringify(remote.raw) };
    switch (remote.status) {
      case 'paid': {
        if (!(await guardedMove(tx, payment.id, 'pending', 'paid', { ...common, paid_at: deps.clock.now() }))) return 'unchanged';
        await runHandler(tx, payment.id, 'onPaid');
        return 'paid';
      }
      case 'failed': {
        if (!(await guardedMove(tx, payment.id, 'pending', 'failed', { ...common, failure_reason: 'declined' }))) return 'unchanged';
        await recordFailure(tx, payment, 'declined', 'the provider reports the payment failed', remote.raw);
        return 'failed';
      }
      case 'cancelled':
      case 'partially_cancelled': {
        if (payment.status === 'pending') {
          return (await guardedMove(tx, payment.id, 'pending', 'cancelled', { ...common, cancelled_at: deps.clock.now() })) ? 'cancelled' : 'unchanged';
        }
        return applyRefund(tx, payment.id, remote);
      }
      default:
        return 'unchanged';
    }
  }

  async function applyRefund(tx: Em, paymentId: string, remote: ProviderPayment): Promise<ApplyOutcome> {
    const full = remote.cancelledAmount >= remote.amount;
    // Only the increase is new: a redelivered refund event finds refunded_amount already there.
    const rows = await tx.execute<{ refunded: number; previous: number }[]>(
      `update payments p set refunded_amount = ?, status = case when ? then 'refunded' else p.status end,
              refunded_at = ?, updated_at = now()
         from (select refunded_amount as previous from payments where id = ? for update) old
        where p.id = ? and p.status = 'paid' and p.refunded_amount < ?
        returning p.refunded_amount as refunded, old.previous`,
      [remote.cancelledAmount, full, deps.clock.now(), paymentId, paymentId, remote.cancelledAmount],
    );
    if (rows.length === 0) return 'unchanged';
    const payment = await tx.findOneOrFail(Payment, { id: paymentId }, { refresh: true });
    await handlersOf(payment).onRefunded?.(tx, payment, Number(rows[0].refunded) - Number(rows[0].previous));
    return full ? 'refunded' : 'partially_refunded';
  }

  async function guardedMove(tx: Em, paymentId: string, from: string, to: string, set: Record<string, unknown>): Promise<boolean> {
    const columns = Object.keys(set);
    const assignments = columns.map((c) => `${c} = ?`).join(', ');
    const rows = await tx.execute<{ id: string }[]>(
      `update payments set status = ?, updated_at = now()${assignments ? `, ${assignments}` : ''} where id = ? and status = ? returning id`,
      [to, ...columns.map((c) => set[c]), paymentId, from],
    );
    return rows.length > 0;
  }

  async function runHandler(tx: Em, paymentId: string, name: 'onPaid' | 'onExpired') {
    const payment = await tx.findOneOrFail(Payment, { id: paymentId }, { refresh: true });
    await handlersOf(payment)[name]?.(tx, payment);
  }

  // Asks the provider for the payment's current state and applies it (webhooks, expiry, reconciliation).
  async function syncFromProvider(orderId: string, paymentKey?: string): Promise<{ outcome: ApplyOutcome; payment: Payment }> {
    const payment = await em.fork().findOne(Payment, { orderId });
    if (!payment) throw notFound('Order');
    const remote = await guardedProvider(payment.provider).lookup({ paymentKey: paymentKey ?? payment.providerPaymentKey ?? '', orderId });
    const outcome = await inTransaction(em, (tx) => applyProviderState(tx, payment.id, remote));
    return { outcome, payment: await em.fork().findOneOrFail(Payment, { id: payment.id }) };
  }

  // Toss's success redirect hands the client { paymentKey, orderId, amount }: the amount is checked
  // against our order before Toss is asked to approve anything.
  async function confirmToss(userId: string, input: TossConfirmInput): Promise<OrderDto> {
    const payment = await ownOrder(userId, input.orderId);
    if (payment.provider !== 'toss') throw badRequest('wrong_provider', 'This order is not a Toss Payments order', 'orderId');
    if (payment.status === 'paid') return toDto(payment);
    if (payment.status !== 'pending') throw conflict('order_not_pending', `This order is ${payment.status}`);
    if (input.amount !== payment.amount) {
      await inTransaction(em, (tx) => recordFailure(tx, payment, 'amount_mismatch', `client sent ${input.amount}, order is ${payment.amount}`));
      throw badRequest('amount_mismatch', 'The amount does not match the order', 'amount');
    }
    let remote: ProviderPayment;
    try {
      remote = await provider('toss').confirm({ paymentKey: input.paymentKey, orderId: payment.orderId, amount: payment.amount });
    } catch (err) {
      if (err instanceof PaymentProviderError && err.code === 'ALREADY_PROCESSED_PAYMENT') {
        remote = await provider('toss').lookup({ paymentKey: input.paymentKey, orderId: payment.orderId });
      } else {
        await inTransaction(em, async (tx) => {
          await recordFailure(tx, payment, providerReason(err), (err as Error).message);
          if (err instanceof PaymentProviderError && !err.retryable) await guardedMove(tx, payment.id, 'pending', 'failed', { failure_reason: providerReason(err) });
        });
        throw toAppError(err);
      }
    }
    const outcome = await inTransaction(em, (tx) => applyProviderState(tx, payment.id, remote));
    if (outcome === 'amount_mismatch') throw badRequest('amount_mismatch', 'The provider reports a different amount; the payment was refused', 'amount');
    return toDto(await em.fork().findOneOrFail(Payment, { id: payment.id }));
  }

  async function refund(orderId: string, input: { reason: string; amount?: number }, idempotencyKey: string): Promise<OrderDto> {
    const payment = await em.fork().findOne(Payment, { orderId });
    if (!payment) throw notFound('Order');
    if (payment.status !== 'paid') throw conflict('order_not_paid', `Only a paid order can be refunded; this one is ${payment.status}`);
    const remaining = payment.amount - payment.refundedAmount;
    if (input.amount !== undefined && input.amount > remaining) throw badRequest('refund_too_large', `At most ${remaining} KRW can still be refunded`, 'amount');
    let remote: ProviderPayment;
    try {
      remote = await provider(payment.provider).cancel(
        { paymentKey: payment.providerPaymentKey ?? '', orderId },
        { reason: input.reason, amount: input.amount, idempotencyKey: `refund-${idempotencyKey}` },
      );
    } catch (err) {
      await inTransaction(em, (tx) => recordFailure(tx, payment, `refund_${providerReason(err)}`, (err as Error).message));
      throw toAppError(err);
    }
    await inTransaction(em, (tx) => applyProviderState(tx, payment.id, remote));
    return toDto(await em.fork().findOneOrFail(Payment, { id: payment.id }));
  }

  // Pending orders older than the TTL: the provider is asked first (a payment may have gone
  // through without its webhook reaching us); what it does not know as paid is cancelled.
  async function expirePending(limit = 100): Promise<{ expired: number; paid: number }> {
    const stale = await em.fork().find(Payment, { status: 'pending', module: { $in: served }, createdAt: { $lt: new Date(deps.clock.now().getTime() - deps.pendingTtlMinutes * 60_000) } }, { limit, orderBy: { createdAt: 'asc' } });
    let expired = 0;
    let paid = 0;
    for (const payment of stale) {
      let remote: ProviderPayment | undefined;
      try {
        remote = await provider(payment.provider).lookup({ paymentKey: payment.providerPaymentKey ?? '', orderId: payment.orderId });
      } catch (err) {
        if (!(err instanceof PaymentProviderError) || err.status !== 404) {
          deps.logger.warn({ err, orderId: payment.orderId }, 'could not check a stale order with its provider; will retry');
          continue;
        }
      }
      await inTransaction(em, async (tx) => {
        if (remote && remote.status !== 'pending' && (await applyProviderState(tx, payment.id, remote)) === 'paid') {
          paid++;
          return;
        }
        if (await guardedMove(tx, payment.id, 'pending', 'cancelled', { failure_reason: 'expired', cancelled_at: deps.clock.now() })) {
          expired++;
          await runHandler(tx, payment.id, 'onExpired');
        }
      });
    }
    return { expired, paid };
  }

  // OFFLINE sandbox checkout: the page shows the order, its buttons decide it.
  async function sandboxOrder(orderId: string): Promise<OrderDto> {
    const payment = await em.findOne(Payment, { orderId, provider: 'sandbox' });
    if (!payment) throw notFound('Sandbox order');
    return toDto(payment);
  }

  // An order is decided once: once its webhook has moved it, another click is a 409 rather than a
  // page claiming a second outcome. While it is still pending, a click resends the sandbox's
  // webhook, which carries the first decision (the sandbox keeps it), so racing clicks agree.
  async function sandboxDecide(orderId: string, decision: 'approve' | 'decline'): Promise<{ order: OrderDto; webhookStatus: number }> {
    const payment = await em.findOne(Payment, { orderId, provider: 'sandbox' });
    if (!payment) throw notFound('Sandbox order');
    if (payment.status !== 'pending') {
      throw new AppError(409, 'checkout_settled', `This order is already ${payment.status}; a sandbox checkout is decided once`, { extra: { checkoutStatus: payment.status } });
    }
    const sandbox = deps.providers.get('sandbox') as SandboxProvider | undefined;
    if (!sandbox) throw notFound('Sandbox order');
    const { webhookStatus } = await sandbox.decide({ orderId, amount: payment.amount }, decision);
    return { order: toDto(await em.fork().findOneOrFail(Payment, { orderId })), webhookStatus };
  }

  return {
    sandboxOrder,
    sandboxDecide,
    listProducts,
    createOrder,
    getOrder,
    confirmToss,
    refund,
    syncFromProvider,
    applyProviderState,
    expirePending,
    toDto,
    provider: guardedProvider,
  };
}

export type PaymentService = ReturnType<typeof createPaymentService>;

function providerReason(err: unknown): string {
  return err instanceof PaymentProviderError ? err.code : 'provider_unreachable';
}

// What a client learns of a provider's failure: our code and our words. The provider's message
// stays in payment_failures and the log (it is in the provider's language and may name accounts);
// a refusal keeps only the provider's code (providerCode), which clients turn into advice. No such
// payment is a 404; a refusal is the client's problem (402: the card was declined); an outage is
// ours (503).
function toAppError(err: unknown): AppError {
  if (err instanceof PaymentProviderError && err.status === 404) {
    return new AppError(404, 'payment_not_found', 'The payment provider has no record of this payment');
  }
  if (err instanceof PaymentProviderError && !err.retryable && (err.status ?? 500) < 500) {
    return new AppError(402, 'payment_declined', 'The payment provider refused the payment', { extra: { providerCode: err.code } });
  }
  return unavailable('payment_provider_unavailable', 'The payment provider could not be reached; try again');
}
