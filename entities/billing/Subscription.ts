import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const SUBSCRIPTION_STATUSES = ['active', 'cancelled', 'expired'] as const;

// A subscription of one provider: RevenueCat, the App Store, Google Play, or Toss recurring billing
// ('toss_billing', charged by us). 'cancelled' (will not renew) still grants access until
// currentPeriodEnd; 'expired' does not. One row per (user, provider, product).
export const Subscription = defineEntity({
  name: 'Subscription',
  tableName: 'subscriptions',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    userId: p.uuid().index(),
    module: p.string(),
    provider: p.string(),
    productId: p.string(),
    entitlements: p.json<string[]>(),
    status: p.enum([...SUBSCRIPTION_STATUSES]),
    currentPeriodEnd: p.datetime().nullable(),
    lastEventId: p.string().nullable(),
    lastEventAt: p.datetime().nullable(),
    environment: p.string().nullable(),
    // The store's id of it (App Store originalTransactionId, Google Play purchaseToken).
    externalId: p.string().nullable(),
    // Merchant-charged recurring billing (provider 'toss_billing'): whom and what we charge, the
    // instant the periods count from, and the next charge with its retry state.
    customerKey: p.string().nullable(),
    billingKeySealed: p.string().nullable().hidden(),
    amount: p.integer().nullable(),
    billingAnchorAt: p.datetime().nullable(),
    periodsPaid: p.integer().default(0),
    nextChargeAt: p.datetime().nullable(),
    retryCount: p.integer().default(0),
    graceUntil: p.datetime().nullable(),
    lastChargeError: p.string().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  uniques: [{ properties: ['userId', 'provider', 'productId'] }],
});
export type Subscription = InferEntity<typeof Subscription>;
