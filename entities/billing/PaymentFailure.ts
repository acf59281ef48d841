import { defineEntity, p, type InferEntity } from '@mikro-orm/core';

// Every refused or failed step of a payment, kept for support and reconciliation: declines,
// amount mismatches, provider errors. Append-only.
export const PaymentFailure = defineEntity({
  name: 'PaymentFailure',
  tableName: 'payment_failures',
  properties: {
    id: p.bigint('number').primary().autoincrement(),
    paymentId: p.uuid().nullable(),
    orderId: p.string(),
    provider: p.string(),
    reason: p.string(),
    detail: p.text().nullable(),
    raw: p.json<Record<string, unknown>>().nullable(),
    createdAt: p.datetime().onCreate(() => new Date()),
  },
});
export type PaymentFailure = InferEntity<typeof PaymentFailure>;
