// Walk premium subscriptions (seed 003 `subscriptions`): one state in the platform's `subscriptions`
// table (module 'walk'), fed by three providers —
//   - Toss recurring billing (자동결제, provider 'toss_billing'): the app registers a card in Toss's
//     window (POST /walk/subscription/checkout says with what), we exchange its authKey for a
//     billing key (kept sealed), charge the first month at once, and the renewal job charges each
//     following month. A failed renewal is retried on days 1, 3 and 7 after it was due, premium kept
//     meanwhile (grace); after the day-7 failure the subscription expires. A cancel stops renewal at
//     the period end; a resume before then undoes it.
//   - the App Store and Google Play, whose notifications another part of the module turns into
//     applyStoreChange() calls (idempotent by event id, ordered by event time).
// Every change moves walk_profiles.premium_until in the same transaction (services/walk/premium.ts,
// the one premium gate).
//
// Charges are claimed before Toss is called: a row in walk_subscription_charges under an orderId
// made of what is paid for (the subscribe's authKey; the subscription, period and attempt). The row's
// insert is the claim, so two cron nodes (or two taps) charge once, and Toss refuses a second payment
// of one orderId should a claim ever be retaken after a crash.
import crypto from 'node:crypto';
import type { Logger } from 'pino';
import { z } from 'zod';
import { PaymentProviderError, type BillingProvider, type ProviderPayment } from '../../integrations/payments/index.ts';
import type { PersonalDataCipher } from '../crypto/personalData.ts';
import { AppError, badRequest, conflict, unavailable } from '../errors.ts';
import type { Clock, TimeFormatter } from '../time.ts';
import { inTransaction, onCommitted, type Em } from '../transaction.ts';
import type { NotifyResult } from '../notifications/notify.ts';
import type { ModuleNotifyInput } from '../../server/module.ts';
import { premiumFeatures, premiumFeaturesDto, syncPremiumUntil, WALK_MODULE } from './premium.ts';

// ---- The contract with the store notifications (App Store Server Notifications V2, Google Play RTDN) ----

export type StoreChange = {
  userId: string; // our user id (App Store appAccountToken / Play obfuscatedExternalAccountId)
  provider: 'app_store' | 'google_play';
  productId: string;
  externalId: string; // App Store originalTransactionId / Play purchaseToken
  status: 'active' | 'cancelled' | 'expired'; // cancelled = auto-renew off, access until periodEnd
  periodEnd: Date | null;
  eventId: string; // notificationUUID / Pub/Sub messageId: the same event twice changes nothing
  eventAt: Date; // older events than the stored one change nothing
  environment: string | null; // 'Sandbox' | 'Production' | …
};
export type StoreChangeOutcome = 'applied' | 'duplicate' | 'stale' | 'unknown_user';

// ---- Plan, timing ----

export const TOSS_BILLING = 'toss_billing';
export const PREMIUM_PRODUCT = 'walk_premium_monthly';
// A failed renewal is tried again this many days after it was due; after the last, it expires.
export const RETRY_DAYS = [1, 3, 7] as const;
// Premium is kept while renewals are retried: until the last retry, plus a day for a late cron run.
const GRACE_MS = (RETRY_DAYS[RETRY_DAYS.length - 1] + 1) * 86_400_000;
// A claimed charge whose node went silent this long (wall time) is taken over with the same orderId.
const STALE_CLAIM_SECONDS = 300;

export type WalkPlan = { productId: string; amount: number; orderName: string };

// ---- Schemas ----

export const billingKeyInput = z.object({
  authKey: z.string().trim().min(1).max(200).meta({ description: "The authKey Toss's card registration (requestBillingAuth) handed the app on success" }),
  customerKey: z.string().trim().min(2).max(300).meta({ description: 'The customerKey POST /walk/subscription/checkout gave' }),
});
export type BillingKeyInput = z.infer<typeof billingKeyInput>;

const planDto = z.object({ productId: z.string(), amount: z.number().int(), currency: z.literal('KRW'), interval: z.literal('month'), orderName: z.string() }).meta({ id: 'WalkPremiumPlan' });

const subscriptionDto = z
  .object({
    provider: z.string().meta({ description: `${TOSS_BILLING} (by card through Toss), app_store or google_play` }),
    productId: z.string(),
    status: z.enum(['active', 'cancelled', 'expired']).meta({ description: 'cancelled: will not renew, premium until currentPeriodEnd' }),
    currentPeriodEnd: z.string().nullable(),
    renews: z.boolean(),
    nextChargeAt: z.string().nullable().meta({ description: 'Toss: when the next charge (or retry) runs' }),
    retrying: z.boolean().meta({ description: 'Toss: the last renewal failed and is being retried (premium kept until graceUntil)' }),
    graceUntil: z.string().nullable(),
    amount: z.number().int().nullable(),
    environment: z.string().nullable(),
  })
  .meta({ id: 'WalkSubscription' });

export const subscriptionStateDto = z
  .object({
    premium: z.boolean(),
    premiumUntil: z.string().nullable(),
    features: premiumFeaturesDto,
    plan: planDto,
    subscriptions: z.array(subscriptionDto).meta({ description: 'Mine, from every provider, latest first' }),
  })
  .meta({ id: 'WalkSubscriptionState' });
export type SubscriptionStateDto = z.infer<typeof subscriptionStateDto>;

export const checkoutDto = z
  .object({
    provider: z.enum(['toss', 'sandbox']),
    plan: planDto,
    customerKey: z.string(),
    amount: z.number().int(),
    orderName: z.string(),
    offline: z.boolean(),
    billingAuth: z.record(z.string(), z.unknown()).meta({ description: "What the app opens Toss's card registration with (clientKey, customerKey); offline: the sandbox's auth keys" }),
  })
  .meta({ id: 'WalkSubscriptionCheckout' });

// ---- The service ----

type SubRow = {
  id: string; user_id: string; provider: string; product_id: string; status: 'active' | 'cancelled' | 'expired'; current_period_end: Date | null;
  next_charge_at: Date | null; retry_count: number; grace_until: Date | null; amount: number | null; environment: string | null; periods_paid: number;
  billing_anchor_at: Date | null; customer_key: string | null; billing_key_sealed: string | null; last_event_id: string | null; updated_at: Date;
};
type ChargeRow = {
  id: string; user_id: string; order_id: string; status: 'pending' | 'paid' | 'failed'; billing_key_sealed: string | null; failure_code: string | null; stale: boolean;
};

export type BillingOption = { name: 'toss' | 'sandbox'; offline: boolean; billing: BillingProvider; lookup: (ref: { paymentKey: string; orderId: string }) => Promise<ProviderPayment> };

export function createWalkSubscriptionService(deps: {
  em: Em; clock: Clock; time: TimeFormatter; logger: Logger;
  personalData: PersonalDataCipher;
  // Toss where configured, else the offline sandbox; none in production without Toss.
  billing: () => BillingOption | undefined;
  plan: WalkPlan;
  // Derives customer keys: stable per user, unguessable by anyone else.
  signingSecret: string;
  notify?: (userId: string, input: ModuleNotifyInput) => Promise<NotifyResult>;
}) {
  const { em, clock, time, logger, plan } = deps;
  const customerKeyOf = (userId: string) => `wcus_${crypto.createHmac('sha256', deps.signingSecret).update(`walk-billing-customer:${userId}`).digest('base64url').slice(0, 32)}`;
  const hash = (text: string) => crypto.createHash('sha256').update(text).digest('base64url').slice(0, 40).replace(/[^A-Za-z0-9]/g, 'x');
  const firstOrderId = (userId: string, authKey: string) => `wsf_${hash(`${userId}:${authKey}`)}`;
  const renewalOrderId = (subId: string, period: number, attempt: number) => `wsr_${subId.replaceAll('-', '')}_${period}_${attempt}`;

  function billingOrFail(): BillingOption {
    const b = deps.billing();
    if (!b) throw unavailable('billing_unavailable', 'Subscriptions by card are not configured on this server');
    return b;
  }

  // The instant `months` calendar months after `anchor`, counted in the configured zone (a period
  // that starts on the 31st ends on the last day of a shorter month, and the next on the 31st again).
  async function monthsAfter(db: Em, anchor: Date, months: number): Promise<Date> {
    const [r] = await db.execute<{ at: Date }[]>(`select ((?::timestamptz at time zone ?) + make_interval(months => ?)) at time zone ? as at`, [anchor, time.zone, months, time.zone]);
    return new Date(r.at);
  }

  const SUB_COLUMNS = `id, user_id, provider, product_id, status, current_period_end, next_charge_at, retry_count, grace_until, amount, environment, periods_paid,
    billing_anchor_at, customer_key, billing_key_sealed, last_event_id, updated_at`;

  async function subscriptionsOf(db: Em, userId: string): Promise<SubRow[]> {
    return db.execute<SubRow[]>(`select ${SUB_COLUMNS} from subscriptions where user_id = ? and module = ? order by updated_at desc, id`, [userId, WALK_MODULE]);
  }

  async function tossOf(db: Em, userId: string): Promise<SubRow | undefined> {
    const [r] = await db.execute<SubRow[]>(`select ${SUB_COLUMNS} from subscriptions where user_id = ? and module = ? and provider = ? and product_id = ?`, [userId, WALK_MODULE, TOSS_BILLING, plan.productId]);
    return r;
  }

  const planView = () => ({ productId: plan.productId, amount: plan.amount, currency: 'KRW' as const, interval: 'month' as const, orderName: plan.orderName });

  async function state(userId: string, db: Em = em.fork()): Promise<SubscriptionStateDto> {
    const rows = await subscriptionsOf(db, userId);
    const f = await premiumFeatures(db, userId, clock.now());
    return {
      premium: f.premium,
      premiumUntil: f.premiumUntil ? time.format(f.premiumUntil) : null,
      features: { adFree: f.adFree, historyDays: f.historyDays, badgeRarity: f.badgeRarity },
      plan: planView(),
      subscriptions: rows.map((r) => ({
        provider: r.provider, productId: r.product_id, status: r.status,
        currentPeriodEnd: r.current_period_end ? time.format(new Date(r.current_period_end)) : null,
        renews: r.status === 'active',
        nextChargeAt: r.status === 'active' && r.next_charge_at ? time.format(new Date(r.next_charge_at)) : null,
        retrying: r.status === 'active' && r.retry_count > 0,
        graceUntil: r.grace_until ? time.format(new Date(r.grace_until)) : null,
        amount: r.amount, environment: r.environment,
      })),
    };
  }

  // A walker whose subscription renews already is not sold a second one; one who cancelled a Toss
  // subscription still running resumes it (a new one would charge again for days already paid).
  function refuseSecond(rows: SubRow[]): void {
    const live = rows.find((r) => r.status === 'active');
    if (live) throw conflict('already_subscribed', `You already have a renewing premium subscription (${live.provider})`);
    const running = rows.find((r) => r.provider === TOSS_BILLING && r.status === 'cancelled' && r.current_period_end && new Date(r.current_period_end) > clock.now());
    if (running) throw conflict('resume_instead', 'Your cancelled subscription is still running: resume it (POST /walk/subscription/resume)');
  }

  // What the app opens Toss's card registration with.
  async function checkout(userId: string): Promise<z.infer<typeof checkoutDto>> {
    const billing = billingOrFail();
    refuseSecond(await subscriptionsOf(em.fork(), userId));
    const customerKey = customerKeyOf(userId);
    return {
      provider: billing.name, plan: planView(), customerKey, amount: plan.amount, orderName: plan.orderName, offline: billing.offline,
      billingAuth: billing.billing.authCheckout({ customerKey }),
    };
  }

  // ---- Subscribe: the authKey → a billing key → the first month, charged at once ----

  async function chargeRow(db: Em, orderId: string): Promise<ChargeRow | undefined> {
    const [r] = await db.execute<ChargeRow[]>(
      `select id, user_id, order_id, status, billing_key_sealed, failure_code, claimed_at < now() - make_interval(secs => ?) as stale from walk_subscription_charges where order_id = ?`,
      [STALE_CLAIM_SECONDS, orderId]);
    return r;
  }

  // The claim of a charge: a new row, or a pending one whose node went silent. Undefined: someone holds it (or it is settled).
  async function claim(db: Em, row: { userId: string; subscriptionId: string | null; orderId: string; kind: 'first' | 'renewal'; period: number; attempt: number; amount: number; customerKey: string }): Promise<ChargeRow | undefined> {
    const inserted = await db.execute<{ id: string }[]>(
      `insert into walk_subscription_charges (user_id, subscription_id, order_id, kind, period, attempt, amount, customer_key) values (?, ?, ?, ?, ?, ?, ?, ?)
       on conflict (order_id) do nothing returning id`,
      [row.userId, row.subscriptionId, row.orderId, row.kind, row.period, row.attempt, row.amount, row.customerKey]);
    if (inserted.length) return chargeRow(db, row.orderId);
    const retaken = await db.execute<{ id: string }[]>(
      `update walk_subscription_charges set claimed_at = now() where order_id = ? and status = 'pending' and claimed_at < now() - make_interval(secs => ?) returning id`,
      [row.orderId, STALE_CLAIM_SECONDS]);
    return retaken.length ? chargeRow(db, row.orderId) : undefined;
  }

  // A provider that could not be reached: the claim is let go at once, so the next try (the same orderId) goes ahead.
  const release = (db: Em, chargeId: string) => db.execute(`update walk_subscription_charges set claimed_at = now() - make_interval(secs => ?) where id = ? and status = 'pending'`, [STALE_CLAIM_SECONDS * 2, chargeId]);

  // Charges under orderId; a payment Toss already holds under it (a retaken claim) is looked up instead.
  async function charge(billing: BillingOption, billingKey: string, input: { customerKey: string; amount: number; orderId: string }): Promise<ProviderPayment> {
    try {
      return await billing.billing.chargeBillingKey(billingKey, { ...input, orderName: plan.orderName });
    } catch (err) {
      if (err instanceof PaymentProviderError && (err.code === 'DUPLICATED_ORDER_ID' || err.code === 'ALREADY_PROCESSED_PAYMENT')) {
        return billing.lookup({ paymentKey: '', orderId: input.orderId });
      }
      throw err;
    }
  }

  async function subscribe(userId: string, input: BillingKeyInput): Promise<{ state: SubscriptionStateDto; created: boolean }> {
    const billing = billingOrFail();
    const customerKey = customerKeyOf(userId);
    if (input.customerKey !== customerKey) throw badRequest('invalid_customer_key', 'This customerKey is not yours: take it from POST /walk/subscription/checkout', 'customerKey');
    const db = em.fork();
    const orderId = firstOrderId(userId, input.authKey);
    let row = await chargeRow(db, orderId);
    if (row?.status === 'paid') return { state: await state(userId), created: false };
    if (row?.status === 'failed') throw declined(row.failure_code);
    if (!row) refuseSecond(await subscriptionsOf(db, userId));
    row = await claim(db, { userId, subscriptionId: null, orderId, kind: 'first', period: 1, attempt: 0, amount: plan.amount, customerKey });
    if (!row) {
      const now = await chargeRow(db, orderId);
      if (now?.status === 'paid') return { state: await state(userId), created: false };
      if (now?.status === 'failed') throw declined(now.failure_code);
      throw conflict('subscribe_in_progress', 'This subscription is being set up; ask again in a moment');
    }

    // The billing key: issued once per authKey, kept (sealed) on the claim until the subscription holds it.
    let billingKey: string;
    if (row.billing_key_sealed) billingKey = deps.personalData.decrypt(row.billing_key_sealed);
    else {
      try {
        billingKey = (await billing.billing.issueBillingKey({ authKey: input.authKey, customerKey })).billingKey;
      } catch (err) {
        logger.warn({ err, userId }, 'walk subscription: billing key not issued');
        if (err instanceof PaymentProviderError && !err.retryable && (err.status ?? 500) < 500) {
          await settleFailed(db, row.id, err.code);
          throw new AppError(400, 'billing_auth_failed', 'Toss did not accept this card registration; register the card again', { issues: [{ field: 'authKey', message: 'not accepted by the payment provider' }], extra: { providerCode: err.code } });
        }
        // Nothing was issued that we hold: the claim goes, and the same call may be made again.
        await db.execute(`delete from walk_subscription_charges where id = ? and status = 'pending' and billing_key_sealed is null`, [row.id]);
        throw unavailable('payment_provider_unavailable', 'The payment provider could not be reached; try again');
      }
      await db.execute(`update walk_subscription_charges set billing_key_sealed = ? where id = ?`, [deps.personalData.encrypt(billingKey), row.id]);
    }

    let paid: ProviderPayment;
    try {
      paid = await charge(billing, billingKey, { customerKey, amount: plan.amount, orderId });
    } catch (err) {
      logger.warn({ err, userId, orderId }, 'walk subscription: first charge failed');
      if (err instanceof PaymentProviderError && !err.retryable && (err.status ?? 500) < 500) {
        await settleFailed(db, row.id, err.code);
        throw declined(err.code);
      }
      await release(db, row.id);
      throw unavailable('payment_provider_unavailable', 'The payment provider could not be reached; try again');
    }
    if (paid.status !== 'paid' || paid.amount !== plan.amount) {
      await settleFailed(db, row.id, paid.status !== 'paid' ? `status_${paid.status}` : 'amount_mismatch');
      throw declined(paid.status !== 'paid' ? `status_${paid.status}` : 'amount_mismatch');
    }

    const anchor = clock.now();
    const periodEnd = await monthsAfter(db, anchor, 1);
    const chargeId = row.id;
    const created = await inTransaction(em, async (tx) => {
      const settled = await tx.execute<{ id: string }[]>(
        `update walk_subscription_charges set status = 'paid', payment_key = ?, settled_at = ?, billing_key_sealed = null where id = ? and status = 'pending' returning id`,
        [paid.paymentKey, anchor, chargeId]);
      if (!settled.length) return false;
      const [sub] = await tx.execute<{ id: string }[]>(
        `insert into subscriptions (id, user_id, module, provider, product_id, entitlements, status, current_period_end, environment, customer_key, billing_key_sealed,
                                    amount, billing_anchor_at, periods_paid, next_charge_at, retry_count, grace_until, last_charge_error, last_event_at)
         values (gen_random_uuid(), ?, ?, ?, ?, '["premium"]', 'active', ?, ?, ?, ?, ?, ?, 1, ?, 0, null, null, ?)
         on conflict (user_id, provider, product_id) do update set
           status = 'active', current_period_end = excluded.current_period_end, environment = excluded.environment, customer_key = excluded.customer_key,
           billing_key_sealed = excluded.billing_key_sealed, amount = excluded.amount, billing_anchor_at = excluded.billing_anchor_at, periods_paid = 1,
           next_charge_at = excluded.next_charge_at, retry_count = 0, grace_until = null, last_charge_error = null, last_event_at = excluded.last_event_at, updated_at = now()
         returning id`,
        [userId, WALK_MODULE, TOSS_BILLING, plan.productId, periodEnd, billing.offline ? 'sandbox (offline)' : null, customerKey, deps.personalData.encrypt(billingKey),
          plan.amount, anchor, periodEnd, anchor]);
      await tx.execute(`update walk_subscription_charges set subscription_id = ? where id = ?`, [sub.id, chargeId]);
      await syncPremiumUntil(tx, userId);
      return true;
    });
    return { state: await state(userId), created };
  }

  function declined(code: string | null): AppError {
    return new AppError(402, 'payment_declined', 'The card was declined; register another card and try again', { extra: { providerCode: code ?? 'declined' } });
  }

  const settleFailed = (db: Em, chargeId: string, code: string) =>
    db.execute(`update walk_subscription_charges set status = 'failed', failure_code = ?, settled_at = ?, billing_key_sealed = null where id = ? and status = 'pending'`, [code.slice(0, 100), clock.now(), chargeId]);

  // ---- Cancel at period end, and resume before it ----

  async function cancel(userId: string): Promise<SubscriptionStateDto> {
    await inTransaction(em, async (tx) => {
      const sub = await tossOf(tx, userId);
      if (!sub || sub.status === 'expired') throw conflict('not_subscribed', 'You have no Toss premium subscription to cancel');
      if (sub.status === 'cancelled') return;
      // A cancel while a failed renewal is being retried ends the retries, and with them the grace.
      await tx.execute(
        `update subscriptions set status = 'cancelled', next_charge_at = null, retry_count = 0, grace_until = null, updated_at = now() where id = ? and status = 'active'`,
        [sub.id]);
      await syncPremiumUntil(tx, userId);
    });
    return state(userId);
  }

  async function resume(userId: string): Promise<SubscriptionStateDto> {
    const now = clock.now();
    await inTransaction(em, async (tx) => {
      const sub = await tossOf(tx, userId);
      if (sub?.status === 'active') return;
      if (!sub || sub.status === 'expired' || !sub.current_period_end || new Date(sub.current_period_end) <= now) {
        throw conflict('nothing_to_resume', 'There is no cancelled subscription still running to resume; subscribe again');
      }
      await tx.execute(
        `update subscriptions set status = 'active', next_charge_at = current_period_end, updated_at = now() where id = ? and status = 'cancelled' and current_period_end > ?`,
        [sub.id, now]);
      await syncPremiumUntil(tx, userId);
    });
    return state(userId);
  }

  // ---- Renewals (cron/walk/subscriptions.ts) ----

  type RenewalOutcome = 'renewed' | 'retrying' | 'expired' | 'skipped' | 'deferred';

  async function renewOne(subId: string): Promise<RenewalOutcome> {
    const db = em.fork();
    const now = clock.now();
    const [sub] = await db.execute<SubRow[]>(`select ${SUB_COLUMNS} from subscriptions where id = ? and status = 'active' and next_charge_at <= ?`, [subId, now]);
    if (!sub || !sub.billing_key_sealed || !sub.customer_key || !sub.amount || !sub.billing_anchor_at || !sub.current_period_end) return 'skipped';
    const billing = deps.billing();
    if (!billing) return 'deferred';
    const period = sub.periods_paid + 1;
    const attempt = sub.retry_count;
    const orderId = renewalOrderId(sub.id, period, attempt);
    const row = await claim(db, { userId: sub.user_id, subscriptionId: sub.id, orderId, kind: 'renewal', period, attempt, amount: sub.amount, customerKey: sub.customer_key });
    if (!row || row.status !== 'pending') return 'skipped';

    let paid: ProviderPayment | undefined;
    let failure: string | undefined;
    try {
      paid = await charge(billing, deps.personalData.decrypt(sub.billing_key_sealed), { customerKey: sub.customer_key, amount: sub.amount, orderId });
      if (paid.status !== 'paid' || paid.amount !== sub.amount) failure = paid.status !== 'paid' ? `status_${paid.status}` : 'amount_mismatch';
    } catch (err) {
      if (!(err instanceof PaymentProviderError) || err.retryable || (err.status ?? 500) >= 500) {
        logger.warn({ err, subscriptionId: sub.id, orderId }, 'walk subscription renewal: provider unreachable; the next run tries the same order again');
        await release(db, row.id);
        return 'deferred';
      }
      failure = err.code;
    }

    const due = new Date(sub.current_period_end);
    return inTransaction(em, async (tx): Promise<RenewalOutcome> => {
      if (!failure) {
        const settled = await tx.execute(`update walk_subscription_charges set status = 'paid', payment_key = ?, settled_at = ? where id = ? and status = 'pending' returning id`, [paid!.paymentKey, now, row.id]);
        if (!settled.length) return 'skipped';
        // The period paid for is the one that began when this charge was due: a renewal that went
        // through on a retry day does not move the anniversary.
        const end = await monthsAfter(tx, new Date(sub.billing_anchor_at!), period);
        await tx.execute(
          `update subscriptions set periods_paid = ?, current_period_end = ?, next_charge_at = case when status = 'active' then ?::timestamptz end,
                  retry_count = 0, grace_until = null, last_charge_error = null, last_event_at = ?, updated_at = now()
            where id = ? and periods_paid = ?`,
          [period, end, end, now, sub.id, sub.periods_paid]);
        await syncPremiumUntil(tx, sub.user_id);
        return 'renewed';
      }
      const settled = await tx.execute(`update walk_subscription_charges set status = 'failed', failure_code = ?, settled_at = ? where id = ? and status = 'pending' returning id`, [failure.slice(0, 100), now, row.id]);
      if (!settled.length) return 'skipped';
      const last = attempt >= RETRY_DAYS.length;
      const moved = await tx.execute(
        last
          ? `update subscriptions set status = 'expired', next_charge_at = null, grace_until = null, last_charge_error = ?, updated_at = now() where id = ? and status = 'active' and retry_count = ? returning id`
          : `update subscriptions set retry_count = retry_count + 1, next_charge_at = ?, grace_until = ?, last_charge_error = ?, updated_at = now() where id = ? and status = 'active' and retry_count = ? returning id`,
        last ? [failure, sub.id, attempt] : [new Date(due.getTime() + RETRY_DAYS[attempt] * 86_400_000), new Date(due.getTime() + GRACE_MS), failure, sub.id, attempt]);
      if (!moved.length) return 'skipped';
      await syncPremiumUntil(tx, sub.user_id);
      const nextTry = last ? null : new Date(due.getTime() + RETRY_DAYS[attempt] * 86_400_000);
      onCommitted(tx, () => tell(sub.user_id, last
        ? { title: '프리미엄 구독이 해지되었어요', body: '결제가 계속 실패해 프리미엄이 종료되었어요. 카드를 다시 등록하면 다시 시작할 수 있어요.', data: { event: 'expired', reason: failure } }
        : { title: '프리미엄 결제에 실패했어요', body: `${time.format(nextTry!).slice(0, 10)}에 다시 결제를 시도해요. 그때까지 프리미엄은 그대로예요.`, data: { event: 'payment_failed', reason: failure, attempt: attempt + 1, nextAttemptAt: time.format(nextTry!) } }));
      return last ? 'expired' : 'retrying';
    });
  }

  function tell(userId: string, n: { title: string; body: string; data: Record<string, unknown> }) {
    if (!deps.notify) return;
    void deps.notify(userId, { type: 'walk.subscription', title: n.title, body: n.body, data: n.data }).catch((err: unknown) => logger.warn({ err, userId }, 'walk subscription notice not sent'));
  }

  // Every Toss subscription due (its period ended and it renews), charged; every cancelled one whose
  // period ended, expired. Safe to run on many nodes at once: each charge is claimed first.
  async function renewDue(opts: { limit?: number; signal?: AbortSignal } = {}): Promise<Record<RenewalOutcome, number> & { ended: number }> {
    const now = clock.now();
    const counts = { renewed: 0, retrying: 0, expired: 0, skipped: 0, deferred: 0, ended: 0 };
    // Cancelled at the period end, and the end has come.
    await inTransaction(em, async (tx) => {
      const ended = await tx.execute<{ user_id: string }[]>(
        `update subscriptions set status = 'expired', next_charge_at = null, updated_at = now()
          where module = ? and provider = ? and status = 'cancelled' and current_period_end <= ? returning user_id`,
        [WALK_MODULE, TOSS_BILLING, now]);
      for (const e of ended) await syncPremiumUntil(tx, e.user_id);
      counts.ended = ended.length;
    });
    const due = await em.fork().execute<{ id: string }[]>(
      `select id from subscriptions where next_charge_at <= ? and module = ? and provider = ? and status = 'active' order by next_charge_at, id limit ?`,
      [now, WALK_MODULE, TOSS_BILLING, opts.limit ?? 500]);
    for (const d of due) {
      if (opts.signal?.aborted) break;
      try {
        counts[await renewOne(d.id)]++;
      } catch (err) {
        logger.error({ err, subscriptionId: d.id }, 'walk subscription renewal failed');
        counts.deferred++;
      }
    }
    return counts;
  }

  // ---- The stores ----

  async function applyStoreChange(change: StoreChange, tx?: Em): Promise<StoreChangeOutcome> {
    const work = async (db: Em): Promise<StoreChangeOutcome> => {
      if (!z.uuid().safeParse(change.userId).success) return 'unknown_user';
      const [user] = await db.execute(`select 1 from users where id = ?`, [change.userId]);
      if (!user) return 'unknown_user';
      const [current] = await db.execute<{ last_event_id: string | null }[]>(
        `select last_event_id from subscriptions where user_id = ? and provider = ? and product_id = ? for update`, [change.userId, change.provider, change.productId]);
      if (current?.last_event_id === change.eventId) return 'duplicate';
      const rows = await db.execute<{ id: string }[]>(
        `insert into subscriptions (id, user_id, module, provider, product_id, entitlements, status, current_period_end, last_event_id, last_event_at, environment, external_id)
         values (gen_random_uuid(), ?, ?, ?, ?, '["premium"]', ?, ?, ?, ?, ?, ?)
         on conflict (user_id, provider, product_id) do update set
           status = excluded.status, current_period_end = coalesce(excluded.current_period_end, subscriptions.current_period_end),
           last_event_id = excluded.last_event_id, last_event_at = excluded.last_event_at, environment = excluded.environment,
           external_id = excluded.external_id, updated_at = now()
         where (subscriptions.last_event_at is null or subscriptions.last_event_at <= excluded.last_event_at)
           and subscriptions.last_event_id is distinct from excluded.last_event_id
         returning id`,
        [change.userId, WALK_MODULE, change.provider, change.productId, change.status, change.periodEnd, change.eventId, change.eventAt, change.environment, change.externalId]);
      if (!rows.length) {
        // Two deliveries of a first event at once: the other inserted it while this one waited.
        const [now] = await db.execute<{ last_event_id: string | null }[]>(`select last_event_id from subscriptions where user_id = ? and provider = ? and product_id = ?`, [change.userId, change.provider, change.productId]);
        return now?.last_event_id === change.eventId ? 'duplicate' : 'stale';
      }
      await syncPremiumUntil(db, change.userId);
      return 'applied';
    };
    return tx ? work(tx) : inTransaction(em, work);
  }

  return { state, checkout, subscribe, cancel, resume, renewDue, renewOne, applyStoreChange, customerKeyOf };
}

export type WalkSubscriptionService = ReturnType<typeof createWalkSubscriptionService>;
