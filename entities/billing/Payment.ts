import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

export const PAYMENT_PROVIDERS = ['toss', 'portone', 'sandbox'] as const;
export type PaymentProviderName = (typeof PAYMENT_PROVIDERS)[number];
export const PAYMENT_STATUSES = ['pending', 'paid', 'failed', 'cancelled', 'refunded'] as const;
export type PaymentStatus = (typeof PAYMENT_STATUSES)[number];

// One order of any module. Amounts are integer KRW. Status moves pending → paid | failed |
// cancelled, and paid → refunded; every move is a guarded UPDATE so it happens once.
export const Payment = defineEntity({
  name: 'Payment',
  tableName: 'payments',
  properties: {
    id: p.uuid().primary().onCreate(() => crypto.randomUUID()),
    orderId: p.string().unique(),
    userId: p.uuid().index(),
    module: p.string(),
    productId: p.string(),
    orderName: p.string(),
    provider: p.enum([...PAYMENT_PROVIDERS]),
    amount: p.integer(),
    currency: p.string().default('KRW'),
    status: p.enum([...PAYMENT_STATUSES]).default('pending'),
    providerPaymentKey: p.string().nullable(),
    providerResponse: p.json<Record<string, unknown>>().nullable(),
    failureReason: p.string().nullable(),
    refundedAmount: p.integer().default(0),
    metadata: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
    updatedAt: p.datetime().onCreate(() => new Date()).onUpdate(() => new Date()),
    paidAt: p.datetime().nullable(),
    cancelledAt: p.datetime().nullable(),
    refundedAt: p.datetime().nullable(),
  },
});
export type Payment = InferEntity<typeof Payment>;
