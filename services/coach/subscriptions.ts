// Coach subscriptions on RevenueCat: checkouts (with their retries), cancellation at period end,
// and what a subscription change means for the coach — the user's plan tier in coach_profiles.
// Purchase and renewal raise the tier until the period end RevenueCat reports; cancellation keeps
// it until then; expiration returns the user to free.
import crypto from 'node:crypto';
import client from 'prom-client';
import type { Logger } from 'pino';
import { tierRank, type PaidTier, type PlanTier } from '../../entities/coach/CoachPlan.ts';
import { PaymentProviderError } from '../../integrations/payments/index.ts';
import type { CancelOutcome, OfflineRevenueCatCheckout, RevenueCatCheckout } from '../../integrations/payments/revenuecatCheckout.ts';
import type { SubscriptionState } from '../billing/subscriptions.ts';
import { AppError, conflict, notFound } from '../errors.ts';
import type { NotifyInput } from '../notifications/schemas.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, type Em } from '../transaction.ts';
import {
  ACTIVE_SUBSCRIPTION, CANCELLATION_INSERT, CHECKOUT_ATTEMPT_FAILED, CHECKOUT_BY_ID, CHECKOUT_CREATED, CHECKOUT_INSERT, CHECKOUT_REOPEN,
  CHECKOUT_SETTLE, CHECKOUTS_DUE, PROFILE_APPLY, PROFILE_CANCEL_AT_PERIOD_END, PROFILE_EXPIRE, PROFILE_STATE,
} from './subscriptions.sql.ts';

export const COACH_MODULE = 'coach';

export type Price = { amount: number; currency: string };

// The monthly price the OFFLINE sandbox page shows for each tier. RevenueCat keeps the real prices
// (in the stores and its Web Billing products) and the sandbox never reads them; these stand in so
// the page says what the purchase it simulates would cost.
export const SANDBOX_TIER_PRICES: Record<PaidTier, Price> = {
  basic: { amount: 4900, currency: 'KRW' },
  basic_special: { amount: 9900, currency: 'KRW' },
};

export type CheckoutAttempt = { id: string; userId: string; tier: PaidTier; status: string };

export type CheckoutResult =
  | { checkoutId: string; status: 'created'; checkoutUrl: string; offline: boolean }
  | { checkoutId: string; status: 'retrying' | 'failed'; nextAttemptAt: string | null };

export type CoachPlanState = { planTier: PlanTier; planExpiresAt: string | null; cancelAtPeriodEnd: boolean };

type AttemptRow = { id: string; user_id: string; tier: PaidTier; attempts: number };

export function createCoachSubscriptionService(deps: {
  em: Em;
  checkout: RevenueCatCheckout;
  notify: (userId: string, input: NotifyInput) => Promise<unknown>;
  productTiers: Record<string, PaidTier>;
  // The purchase link's package for each tier.
  tierPackages: Record<PaidTier, string>;
  entitlementTiers: Record<string, PaidTier>;
  retryHours: number;
  maxRetries: number;
  registry: client.Registry;
  time: TimeFormatter;
  clock: Clock;
  logger: Logger;
}) {
  const { em } = deps;
  const retries = (deps.registry.getSingleMetric('payment_retry_total') as client.Counter<'module' | 'outcome'> | undefined)
    ?? new client.Counter({
      name: 'payment_retry_total',
      help: 'Retried payment steps (coach checkout creation) by module and outcome',
      labelNames: ['module', 'outcome'] as const,
      registers: [deps.registry],
    });

  // The product decides the tier; entitlements stand in for products this server does not know.
  function tierOf(state: Pick<SubscriptionState, 'productId' | 'entitlements'>): PaidTier | null {
    const byProduct = deps.productTiers[state.productId];
    if (byProduct) return byProduct;
    const byEntitlement = state.entitlements.map((e) => deps.entitlementTiers[e]).filter((t): t is PaidTier => Boolean(t));
    return byEntitlement.sort((a, b) => tierRank(b) - tierRank(a))[0] ?? null;
  }

  async function applyToPlan(tx: Em, state: SubscriptionState): Promise<void> {
    const tier = tierOf(state);
    if (!tier) {
      deps.logger.warn({ userId: state.userId, productId: state.productId }, 'coach subscription for an unmapped product; plan unchanged (see COACH_PRODUCT_TIERS_JSON)');
      return;
    }
    if (state.status === 'expired') {
      // Only the subscription that gave the current tier takes it away: an upgrade's old product expiring does not.
      await tx.execute(PROFILE_EXPIRE, [state.userId, tier]);
      return;
    }
    await tx.execute(PROFILE_APPLY, [state.userId, tier, state.currentPeriodEnd, state.status === 'cancelled']);
  }

  async function planState(userId: string): Promise<CoachPlanState> {
    const [row] = await em.fork().execute<{ plan_tier: PlanTier; plan_expires_at: Date | null; cancel_at_period_end: boolean }[]>(PROFILE_STATE, [userId]);
    const lapsed = row?.plan_expires_at && new Date(row.plan_expires_at).getTime() <= deps.clock.now().getTime();
    if (!row || lapsed) return { planTier: 'free', planExpiresAt: null, cancelAtPeriodEnd: false };
    return { planTier: row.plan_tier, planExpiresAt: row.plan_expires_at ? deps.time.format(new Date(row.plan_expires_at)) : null, cancelAtPeriodEnd: row.cancel_at_period_end };
  }

  // One attempt at creating the checkout; the row records the outcome either way.
  async function attempt(row: AttemptRow, isRetry: boolean): Promise<CheckoutResult> {
    try {
      const created = await deps.checkout.createCheckout({ checkoutId: row.id, appUserId: row.user_id, packageId: deps.tierPackages[row.tier] });
      await em.fork().execute(CHECKOUT_CREATED, [created.checkoutUrl, created.offline, row.id]);
      if (isRetry) retries.inc({ module: COACH_MODULE, outcome: 'succeeded' });
      return { checkoutId: row.id, status: 'created', checkoutUrl: created.checkoutUrl, offline: created.offline };
    } catch (err) {
      if (!(err instanceof PaymentProviderError)) throw err;
      if (isRetry) retries.inc({ module: COACH_MODULE, outcome: 'failed' });
      // attempts counts the first try too: retries made so far = attempts after this one - 1.
      const retriesMade = row.attempts;
      const giveUp = retriesMade >= deps.maxRetries;
      const nextAttemptAt = giveUp ? null : new Date(deps.clock.now().getTime() + deps.retryHours * 3_600_000);
      await em.fork().execute(CHECKOUT_ATTEMPT_FAILED, [giveUp ? 'failed' : 'retrying', nextAttemptAt, err.code, row.id]);
      deps.logger.warn({ checkoutId: row.id, code: err.code, retryable: err.retryable, giveUp }, 'coach checkout creation failed');
      return { checkoutId: row.id, status: giveUp ? 'failed' : 'retrying', nextAttemptAt: nextAttemptAt ? deps.time.format(nextAttemptAt) : null };
    }
  }

  async function initiate(userId: string, tier: PaidTier): Promise<CheckoutResult> {
    const current = await planState(userId);
    if (current.planTier !== 'free' && tierRank(current.planTier) >= tierRank(tier) && !current.cancelAtPeriodEnd) {
      throw conflict('already_subscribed', `You are already on the ${current.planTier} plan`, 'tier');
    }
    const row: AttemptRow = { id: crypto.randomUUID(), user_id: userId, tier, attempts: 0 };
    await em.fork().execute(CHECKOUT_INSERT, [row.id, userId, COACH_MODULE, tier]);
    return attempt(row, false);
  }

  // The cron job: checkouts whose creation failed, retried every COACH_CHECKOUT_RETRY_HOURS at most
  // COACH_CHECKOUT_MAX_RETRIES times. The user asked and was told we would retry, so the outcome reaches them.
  async function retryDueCheckouts(opts: { limit?: number } = {}): Promise<{ retried: number; succeeded: number; failed: number }> {
    const due = await em.fork().execute<AttemptRow[]>(CHECKOUTS_DUE, [deps.clock.now(), opts.limit ?? 200]);
    let succeeded = 0;
    let failed = 0;
    for (const row of due) {
      const result = await attempt(row, true);
      if (result.status === 'created') {
        succeeded++;
        await deps.notify(row.user_id, {
          type: 'coach.checkout_ready', category: 'payment', title: '결제 페이지가 준비되었습니다',
          body: 'AI 코치 구독 결제를 이어서 진행해 주세요.', data: { checkoutId: row.id, checkoutUrl: result.checkoutUrl, tier: row.tier },
          dedupeKey: `coach.checkout_ready:${row.id}`,
        });
      } else if (result.status === 'failed') {
        failed++;
        await deps.notify(row.user_id, {
          type: 'coach.checkout_failed', category: 'payment', title: '결제 페이지를 준비하지 못했습니다',
          body: '잠시 후 구독을 다시 시도해 주세요.', data: { checkoutId: row.id, tier: row.tier }, dedupeKey: `coach.checkout_failed:${row.id}`,
        });
      }
    }
    return { retried: due.length, succeeded, failed };
  }

  async function cancel(userId: string): Promise<CoachPlanState & { provider: CancelOutcome }> {
    const [sub] = await em.fork().execute<{ product_id: string; current_period_end: Date | null }[]>(ACTIVE_SUBSCRIPTION, [userId, COACH_MODULE]);
    if (!sub) throw conflict('no_active_subscription', 'There is no active coach subscription to cancel');
    const periodEnd = sub.current_period_end ? new Date(sub.current_period_end) : null;
    let provider: CancelOutcome;
    try {
      provider = await deps.checkout.cancelAtPeriodEnd({ appUserId: userId, productId: sub.product_id, periodEnd });
    } catch (err) {
      if (!(err instanceof PaymentProviderError)) throw err;
      deps.logger.warn({ code: err.code }, 'RevenueCat refused the coach cancellation');
      throw new AppError(502, 'provider_error', 'The subscription could not be cancelled with RevenueCat; try again later');
    }
    // The plan keeps its tier until the period ends; RevenueCat's CANCELLATION webhook confirms it.
    await inTransaction(em, async (tx) => {
      await tx.execute(CANCELLATION_INSERT, [userId, sub.product_id, provider, periodEnd]);
      await tx.execute(PROFILE_CANCEL_AT_PERIOD_END, [userId]);
    });
    return { ...(await planState(userId)), provider };
  }

  async function checkoutAttempt(checkoutId: string): Promise<CheckoutAttempt> {
    const [row] = await em.fork().execute<{ id: string; user_id: string; tier: PaidTier; status: string }[]>(CHECKOUT_BY_ID, [checkoutId]);
    if (!row) throw notFound('Checkout');
    return { id: row.id, userId: row.user_id, tier: row.tier, status: row.status };
  }

  // The OFFLINE sandbox page: the checkout, whether it can still be decided, and its price.
  async function sandboxCheckout(checkoutId: string): Promise<CheckoutAttempt & { open: boolean; price: Price }> {
    sandboxDriver();
    const c = await checkoutAttempt(checkoutId);
    return { ...c, open: c.status === 'created', price: SANDBOX_TIER_PRICES[c.tier] };
  }

  // OFFLINE sandbox page's buttons: approving sends the purchase webhook as RevenueCat would. A
  // checkout is decided once: the guarded update lets one of two racing clicks through, and every
  // later Approve or Decline is a 409 instead of renewing the plan again or claiming a cancellation.
  async function sandboxDecide(checkoutId: string, decision: 'approve' | 'decline'): Promise<{ tier: PaidTier; price: Price; webhookStatus: number | null }> {
    const offline = sandboxDriver();
    const [row] = await em.fork().execute<{ id: string; user_id: string; tier: PaidTier }[]>(CHECKOUT_SETTLE, [decision === 'approve' ? 'approved' : 'declined', checkoutId]);
    if (!row) throw notDecidable(await checkoutAttempt(checkoutId));
    const price = SANDBOX_TIER_PRICES[row.tier];
    if (decision === 'decline') return { tier: row.tier, price, webhookStatus: null };
    const entitlementIds = Object.entries(deps.entitlementTiers).filter(([, t]) => t === row.tier).map(([e]) => e);
    const productId = Object.entries(deps.productTiers).find(([, t]) => t === row.tier)?.[0] ?? `coach_${row.tier}_monthly`;
    // A purchase our webhook did not accept bought nothing: the checkout opens again for another try.
    let webhookStatus: number;
    try {
      webhookStatus = await offline.purchase({ appUserId: row.user_id, productId, entitlementIds });
    } catch (err) {
      await em.fork().execute(CHECKOUT_REOPEN, [checkoutId]);
      throw err;
    }
    if (webhookStatus < 200 || webhookStatus >= 300) await em.fork().execute(CHECKOUT_REOPEN, [checkoutId]);
    return { tier: row.tier, price, webhookStatus };
  }

  function sandboxDriver(): Pick<OfflineRevenueCatCheckout, 'purchase'> {
    const offline = deps.checkout as Partial<OfflineRevenueCatCheckout>;
    if (!deps.checkout.offline || !offline.purchase) throw notFound('Checkout');
    return { purchase: offline.purchase };
  }

  function notDecidable(c: CheckoutAttempt): AppError {
    if (c.status === 'approved' || c.status === 'declined') {
      return new AppError(409, 'checkout_settled', `This checkout was already ${c.status}; a checkout is decided once. Start a new one to buy again.`, { extra: { checkoutStatus: c.status } });
    }
    return new AppError(409, 'checkout_not_open', `This checkout cannot be decided here (it is ${c.status})`, { extra: { checkoutStatus: c.status } });
  }

  return { initiate, cancel, planState, retryDueCheckouts, sandboxCheckout, sandboxDecide, tierOf, applyToPlan, offline: deps.checkout.offline };
}

export type CoachSubscriptionService = ReturnType<typeof createCoachSubscriptionService>;
