import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const SUBSCRIPTION_STATUSES = ['active', 'cancelled', 'expired'] as const;

// A store subscription as RevenueCat reports it: 'cancelled' still grants access until
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
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
  },
  uniques: [{ properties: ['userId', 'provider', 'productId'] }],
});
export type Subscription = InferEntity<typeof Subscription>;
