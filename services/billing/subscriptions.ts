// Store subscriptions reported by RevenueCat. Purchase and renewal make a subscription active until
// the period end the RevenueCat API reports; cancellation keeps access until that end; expiration
// ends it. The module that sells through RevenueCat says what a change means for it, in the same
// transaction that records the change.
import type { Logger } from 'pino';
import { Subscription } from '../../entities/billing/Subscription.ts';
import type { RevenueCatClient } from '../../integrations/payments/revenuecat.ts';
import type { Em } from '../transaction.ts';
import { moduleNotServed } from './payments.ts';

export type SubscriptionState = {
  userId: string;
  module: string;
  productId: string;
  entitlements: string[];
  status: 'active' | 'cancelled' | 'expired';
  currentPeriodEnd: Date | null;
};

export type SubscriptionChanged = (tx: Em, state: SubscriptionState) => Promise<void>;

type RevenueCatEvent = {
  id: string;
  type: string;
  app_user_id: string;
  product_id?: string;
  entitlement_ids?: string[] | null;
  expiration_at_ms?: number | null;
  event_timestamp_ms?: number;
  environment?: string;
};

export type ConfirmedEvent = RevenueCatEvent & { periodEnd: Date | null; confirmedBy: 'api' | 'webhook_offline' };

const STATUS_BY_TYPE: Record<string, SubscriptionState['status']> = {
  INITIAL_PURCHASE: 'active',
  RENEWAL: 'active',
  UNCANCELLATION: 'active',
  PRODUCT_CHANGE: 'active',
  CANCELLATION: 'cancelled',
  EXPIRATION: 'expired',
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createSubscriptionService(deps: {
  revenuecat: RevenueCatClient;
  // The module RevenueCat's subscriptions belong to (none: events are recorded and change nothing),
  // and its handler — 'not_served' when the module runs on other nodes than this one.
  revenuecatModule?: { name: string; onChanged: SubscriptionChanged | 'not_served' };
  logger: Logger;
}) {

  // The period end comes from RevenueCat's API, not from the webhook body.
  async function confirmWithProvider(event: RevenueCatEvent): Promise<ConfirmedEvent> {
    if (!UUID.test(event.app_user_id) || !event.product_id || !(event.type in STATUS_BY_TYPE)) {
      return { ...event, periodEnd: null, confirmedBy: deps.revenuecat.offline ? 'webhook_offline' : 'api' };
    }
    const subscriber = await deps.revenuecat.getSubscriber(event.app_user_id);
    if (!subscriber) return { ...event, periodEnd: event.expiration_at_ms ? new Date(event.expiration_at_ms) : null, confirmedBy: 'webhook_offline' };
    const expires = subscriber.subscriptions[event.product_id]?.expires_date;
    return { ...event, periodEnd: expires ? new Date(expires) : null, confirmedBy: 'api' };
  }

  async function apply(tx: Em, event: ConfirmedEvent): Promise<string> {
    const status = STATUS_BY_TYPE[event.type];
    if (!status) return 'ignored';
    const owner = deps.revenuecatModule;
    if (!owner) return 'no_module';
    // Rolled back and answered 503: RevenueCat redelivers, and a node serving the module acts.
    if (owner.onChanged === 'not_served') throw moduleNotServed(owner.name);
    if (!UUID.test(event.app_user_id) || !event.product_id) return 'unknown_user';
    const exists = await tx.execute('select 1 from users where id = ?', [event.app_user_id]);
    if (exists.length === 0) return 'unknown_user';
    const eventAt = new Date(event.event_timestamp_ms ?? Date.now());
    // An expiration still reported active by the API (a renewal crossed it) is not applied.
    const effective = status === 'expired' && event.periodEnd && event.periodEnd > new Date() ? 'active' : status;
    const rows = await tx.execute<{ id: string }[]>(
      `insert into subscriptions (id, user_id, module, provider, product_id, entitlements, status, current_period_end, last_event_id, last_event_at, environment)
       values (gen_random_uuid(), ?, ?, 'revenuecat', ?, ?, ?, ?, ?, ?, ?)
       on conflict (user_id, provider, product_id) do update set
         entitlements = excluded.entitlements, status = excluded.status,
         current_period_end = coalesce(excluded.current_period_end, subscriptions.current_period_end),
         last_event_id = excluded.last_event_id, last_event_at = excluded.last_event_at,
         environment = excluded.environment, updated_at = now()
       where subscriptions.last_event_at is null or subscriptions.last_event_at <= excluded.last_event_at
       returning id`,
      [event.app_user_id, owner.name, event.product_id, JSON.stringify(event.entitlement_ids ?? []), effective, event.periodEnd, event.id, eventAt, event.environment ?? null],
    );
    // Events can arrive out of order; an older one than what is stored changes nothing.
    if (rows.length === 0) return 'stale';
    const sub = await tx.findOneOrFail(Subscription, { id: rows[0].id }, { refresh: true });
    const state: SubscriptionState = { userId: sub.userId, module: sub.module, productId: sub.productId, entitlements: sub.entitlements, status: sub.status, currentPeriodEnd: sub.currentPeriodEnd ?? null };
    await owner.onChanged(tx, state);
    return `${effective}${event.confirmedBy === 'webhook_offline' ? ' (offline: not confirmed with the RevenueCat API)' : ''}`;
  }

  return {
    confirmWithProvider,
    apply,
  };
}

export type SubscriptionService = ReturnType<typeof createSubscriptionService>;
